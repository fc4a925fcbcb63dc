from django.urls import path, re_path

from . import faults, views

app_name = "reports"
urlpatterns = [
    path("", views.report_page, name="index"),
    path("orders/", views.orders_page, name="orders"),
    path("faults/", faults.faults_page, name="faults"),
    re_path(
        r"^export/(?P<kind>tickets|transitions)\.(?P<fmt>csv|xlsx)$",
        views.export_view,
        name="export",
    ),
    path("files/<int:pk>/", views.report_file_download, name="file"),
]
