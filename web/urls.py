from django.urls import path

from . import faults, staff_views, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("report/", views.report, name="report"),
    path("report/repeat/", views.repeat_check, name="repeat_check"),
    path("report/fault/", faults.fault_check, name="fault_check"),
    path("orders/", views.my_orders, name="my_orders"),
    path("orders/<str:number>/", views.order_detail, name="order"),
    path("orders/<str:number>/comment/", views.order_comment, name="order_comment"),
    path("orders/<str:number>/photos/", views.order_photos, name="order_photos"),
    path("orders/<str:number>/chase/", views.order_chase, name="order_chase"),
    path("orders/<str:number>/verdict/", views.order_verdict, name="order_verdict"),
    path("orders/<str:number>/claim/", staff_views.order_claim, name="order_claim"),
    path("orders/<str:number>/reply/", staff_views.order_reply, name="order_reply"),
    path("orders/<str:number>/resume/", staff_views.order_resume, name="order_resume"),
    path("orders/<str:number>/return/", staff_views.order_request_return, name="order_return"),
    path(
        "orders/<str:number>/suspension/",
        staff_views.order_request_suspension,
        name="order_request_suspension",
    ),
    path(
        "orders/<str:number>/extension/",
        staff_views.order_request_extension,
        name="order_request_extension",
    ),
    path("orders/<str:number>/cohandling/", staff_views.order_cohandling, name="order_cohandling"),
    path("orders/<str:number>/assign/", staff_views.order_assign, name="order_assign"),
    path("work/", staff_views.queue, name="staff_queue"),
    path("work/approvals/", staff_views.approvals, name="staff_approvals"),
    path(
        "work/requests/<str:kind>/<int:pk>/",
        staff_views.decide,
        name="staff_decide",
    ),
    path("photos/<int:pk>/", views.photo, name="photo"),
    path("photos/<int:pk>/thumb/", views.photo_thumb, name="photo_thumb"),
    path("sw.js", views.service_worker, name="sw"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read-all/", views.notification_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification_open"),
]
