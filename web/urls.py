from django.urls import path

from . import faults, views

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
    path("photos/<int:pk>/", views.photo, name="photo"),
    path("sw.js", views.service_worker, name="sw"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read-all/", views.notification_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification_open"),
]
