from django.urls import path

from . import views

app_name = "sms"

urlpatterns = [
    path("receipt/", views.sms_receipt, name="receipt"),
    path("inbound/", views.sms_inbound, name="inbound"),
]
