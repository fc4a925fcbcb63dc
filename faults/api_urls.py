"""Mounted at /api/v1/ before the api app's own routes."""

from django.urls import path

from . import api

F = "faults/<str:number>/"

urlpatterns = [
    path("faults/", api.FaultList.as_view(), name="api-faults"),
    path(F, api.FaultDetail.as_view(), name="api-fault"),
    *[
        path(f"{F}{name}/", api.action_view(name).as_view(), name=f"api-fault-{name}")
        for name in api.ACTIONS
    ],
]
