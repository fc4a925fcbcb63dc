from django.urls import path

from . import views

app_name = "customers"

urlpatterns = [
    path("<str:token>/", views.status_page, name="status"),
    path("<str:token>/note/", views.add_note, name="note"),
    path("<str:token>/survey/", views.answer_survey, name="survey"),
]
