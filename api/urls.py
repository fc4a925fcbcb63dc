"""/api/v1/ routes. Self-contained: other apps may include their own routes under /api/v1/
before these."""

from csp.decorators import csp_update
from django.urls import path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from . import flow, records
from .auth import TokenView
from .intake import CustomerLookupView, IntakeView, MarkRegulatorView, RegulatorSignoffView
from .views import (
    TRANSITIONS,
    PingView,
    TicketDetail,
    TicketList,
    UnknownTransition,
    transition_view,
)

T = "tickets/<str:number>/"

urlpatterns = [
    path("ping/", PingView.as_view(), name="api-ping"),
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("me/", records.MeView.as_view(), name="api-me"),
    path("categories/", records.CategoriesView.as_view(), name="api-categories"),
    path("departments/", records.DepartmentsView.as_view(), name="api-departments"),
    path("notifications/", records.NotificationsView.as_view(), name="api-notifications"),
    path(
        "notifications/read/",
        records.NotificationsReadView.as_view(),
        name="api-notifications-read",
    ),
    path("intake/", IntakeView.as_view(), name="api-intake"),
    path("customers/<str:phone>/", CustomerLookupView.as_view(), name="api-customer-lookup"),
    path("tickets/", TicketList.as_view(), name="api-tickets"),
    path(T, TicketDetail.as_view(), name="api-ticket"),
    *[
        path(f"{T}transitions/{name}/", transition_view(name).as_view(), name=f"api-t-{name}")
        for name in TRANSITIONS
    ],
    path(f"{T}transitions/<str:name>/", UnknownTransition.as_view()),
    path(f"{T}redo/decline/", records.DeclineRedoView.as_view(), name="api-redo-decline"),
    path(f"{T}regulator/", MarkRegulatorView.as_view(), name="api-mark-regulator"),
    path(f"{T}regulator/signoff/", RegulatorSignoffView.as_view(), name="api-regulator-signoff"),
    path(f"{T}timeline/", records.TimelineView.as_view(), name="api-timeline"),
    path(f"{T}comments/", records.CommentsView.as_view(), name="api-comments"),
    path(
        f"{T}customer-messages/",
        records.CustomerMessagesView.as_view(),
        name="api-customer-messages",
    ),
    path(f"{T}attachments/", records.AttachmentsView.as_view(), name="api-attachments"),
    path(
        f"{T}attachments/<str:pk>/content/",
        records.AttachmentContentView.as_view(),
        name="api-attachment-content",
    ),
    path(f"{T}chases/", records.ChasesView.as_view(), name="api-chases"),
    path(f"{T}supervisions/", records.SupervisionsView.as_view(), name="api-supervisions"),
    path(f"{T}assignment/", records.AssignView.as_view(), name="api-assign"),
    path(f"{T}category/", flow.CorrectCategoryView.as_view(), name="api-correct-category"),
    path(f"{T}reply-templates/", flow.ReplyTemplatesView.as_view(), name="api-reply-templates"),
    path(f"{T}cohandlings/", records.CoHandlingView.as_view(), name="api-cohandlings"),
    path(f"{T}extensions/", records.ExtensionsView.as_view(), name="api-extensions"),
    path(
        f"{T}extensions/<str:pk>/approve/",
        records.ExtensionApproveView.as_view(),
        name="api-extension-approve",
    ),
    path(
        f"{T}extensions/<str:pk>/refuse/",
        records.ExtensionRefuseView.as_view(),
        name="api-extension-refuse",
    ),
    path(f"{T}suspensions/", records.SuspensionsView.as_view(), name="api-suspensions"),
    path(
        f"{T}suspensions/<str:pk>/approve/",
        records.SuspensionApproveView.as_view(),
        name="api-suspension-approve",
    ),
    path(
        f"{T}suspensions/<str:pk>/refuse/",
        records.SuspensionRefuseView.as_view(),
        name="api-suspension-refuse",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="api-v1-schema"),
]

# Redoc's bundle (drf-spectacular-sidecar) adds two <style> elements while it loads, before it
# can be handed the nonce: an empty one and perfect-scrollbar's stylesheet; they are allowed by
# their hashes (a new sidecar release may change the second: the CSP browser test then names
# the new hash). Its sidebar always shows Redocly's logo from their CDN: that one image is
# allowed too, rather than a violation on every visit.
REDOC_CSP = {
    "style-src": [
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
        "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
    ],
    "img-src": ["https://cdn.redoc.ly/redoc/logo-mini.svg"],
}

# Mounted at /api/ (the issue's /api/schema/ and /api/docs/); docs assets are served locally.
# Both pages run without inline script or style (Content-Security-Policy): Swagger UI's start-up
# script is the split view's second URL, Redoc's is a static file (see the templates).
docs_urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path(
        "redoc/",
        csp_update(REDOC_CSP)(
            SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html")
        ),
        name="api-redoc",
    ),
]
