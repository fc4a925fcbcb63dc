"""Records on an order (timeline, comments, photos, extension and suspension requests, chases,
supervision notes, handler assignment, co-handling) and reference data."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts.models import Department
from notifications.models import Notification
from notifications.selectors import notifications_for
from notifications.services import notification_mark_read
from notifications.sms_selectors import customer_message_row, ticket_customer_messages
from workorders import services
from workorders.http import attachment_response
from workorders.models import Category, Ticket
from workorders.selectors import ticket_timeline

from . import serializers as s
from .common import get_child, get_ticket, if_match_version, ticket_detail_response
from .pagination import Key, KeysetPagination
from .views import IF_MATCH_PARAM, NUMBER_PARAM

PK_PARAM = OpenApiParameter("pk", int, OpenApiParameter.PATH, description="Request id")


def _schema(op: str, tag: str, **kw):
    params = kw.pop("parameters", [])
    return extend_schema(operation_id=op, tags=[tag], parameters=[NUMBER_PARAM, *params], **kw)


class TimelineView(GenericAPIView):
    serializer_class = s.TimelineItemSerializer
    queryset = Ticket.objects.none()

    @_schema(
        "tickets_timeline",
        "records",
        responses={200: s.TimelineItemSerializer(many=True)},
        description="Audit rows, comments, photos, chases, supervision notes, SLA events and "
        "notifications about this order, oldest first.",
    )
    def get(self, request, number):
        ticket = get_ticket(request, number)
        items = []
        for item in ticket_timeline(ticket, user=request.user):
            obj = item["obj"]
            row = {
                "at": item["at"],
                "type": item["type"],
                "actor": item["actor"],
                "text": item["text"] or "",
            }
            if item["type"] == "transition":
                row.update(
                    name=item["name"], role=item["role"], source=obj.source, target=obj.target
                )
            items.append(row)
        return Response(s.TimelineItemSerializer(items, many=True).data)


class CustomerMessagesView(GenericAPIView):
    serializer_class = s.CustomerMessageSerializer
    queryset = Ticket.objects.none()

    @_schema(
        "tickets_customer_messages",
        "records",
        responses={200: s.CustomerMessageSerializer(many=True)},
        description="The texts (SMS) to the order's customer, oldest first: what they said, "
        "whether and when they were sent, the platform's receipt. The number is masked for "
        "roles that may not see it in full.",
    )
    def get(self, request, number):
        ticket = get_ticket(request, number)
        rows = [
            customer_message_row(d, user=request.user, ticket=ticket)
            for d in ticket_customer_messages(ticket)
        ]
        return Response(s.CustomerMessageSerializer(rows, many=True).data)


class _TicketRecords(GenericAPIView):
    """GET lists the records of one kind; POST adds one through the service."""

    related = ""
    select = ()
    queryset = Ticket.objects.none()

    def records(self, ticket):
        return getattr(ticket, self.related).select_related(*self.select)

    def list(self, request, number):
        ticket = get_ticket(request, number)
        return Response(self.get_serializer(self.records(ticket), many=True).data)


class CommentsView(_TicketRecords):
    serializer_class = s.CommentSerializer
    related, select = "comments", ("author",)

    @_schema("tickets_comments_list", "records", responses={200: s.CommentSerializer(many=True)})
    def get(self, request, number):
        return self.list(request, number)

    @_schema("tickets_comments_create", "records", responses={201: s.CommentSerializer})
    def post(self, request, number):
        form = s.CommentSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ticket = get_ticket(request, number)
        row = services.ticket_comment(
            ticket=ticket, by=request.user, body=form.validated_data["body"]
        )
        return Response(s.CommentSerializer(row).data, status=201)


class AttachmentsView(_TicketRecords):
    serializer_class = s.AttachmentSerializer
    related, select = "attachments", ("uploaded_by", "ticket")
    parser_classes = [MultiPartParser, FormParser]

    @_schema(
        "tickets_attachments_list", "records", responses={200: s.AttachmentSerializer(many=True)}
    )
    def get(self, request, number):
        return self.list(request, number)

    @_schema(
        "tickets_attachments_create",
        "records",
        request={"multipart/form-data": s.AttachmentUploadSerializer},
        responses={201: s.AttachmentSerializer(many=True)},
        description="Upload up to 6 photos (JPEG, PNG, WebP, HEIC) as `files`; the type is "
        "read from the bytes and the size is limited.",
    )
    def post(self, request, number):
        form = s.AttachmentUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ticket = get_ticket(request, number)
        rows = services.ticket_attach(
            ticket=ticket, by=request.user, files=form.validated_data["files"]
        )
        return Response(s.AttachmentSerializer(rows, many=True).data, status=201)


class AttachmentContentView(GenericAPIView):
    """The photo's bytes, to users who may see the order (the same check as the web pages)."""

    queryset = Ticket.objects.none()
    serializer_class = s.EmptySerializer

    @_schema(
        "tickets_attachments_content",
        "records",
        parameters=[
            OpenApiParameter("pk", int, OpenApiParameter.PATH, description="Attachment id")
        ],
        responses={(200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The photo")},
    )
    def get(self, request, number, pk):
        ticket = get_ticket(request, number)
        return attachment_response(get_child(ticket.attachments.all(), pk))


class ChasesView(_TicketRecords):
    serializer_class = s.ChaseSerializer
    related, select = "chases", ("by",)

    @_schema("tickets_chases_list", "records", responses={200: s.ChaseSerializer(many=True)})
    def get(self, request, number):
        return self.list(request, number)

    @_schema(
        "tickets_chases_create",
        "records",
        responses={201: s.ChaseSerializer},
        description="催办: at most once per 10 minutes an order (429 otherwise).",
    )
    def post(self, request, number):
        form = s.ChaseSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ticket = get_ticket(request, number)
        row = services.ticket_chase(
            ticket=ticket, by=request.user, note=form.validated_data.get("note", "")
        )
        return Response(s.ChaseSerializer(row).data, status=201)


class SupervisionsView(_TicketRecords):
    serializer_class = s.SupervisionSerializer
    related, select = "supervisions", ("by",)

    @_schema(
        "tickets_supervisions_list", "records", responses={200: s.SupervisionSerializer(many=True)}
    )
    def get(self, request, number):
        return self.list(request, number)

    @_schema("tickets_supervisions_create", "records", responses={201: s.SupervisionSerializer})
    def post(self, request, number):
        form = s.SupervisionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ticket = get_ticket(request, number)
        row = services.ticket_supervise(
            ticket=ticket, by=request.user, note=form.validated_data["note"]
        )
        return Response(s.SupervisionSerializer(row).data, status=201)


class ExtensionsView(_TicketRecords):
    serializer_class = s.ExtensionSerializer
    related, select = "extensions", ("requested_by", "decided_by")

    @_schema(
        "tickets_extensions_list", "records", responses={200: s.ExtensionSerializer(many=True)}
    )
    def get(self, request, number):
        return self.list(request, number)

    @_schema(
        "tickets_extensions_create",
        "records",
        parameters=[IF_MATCH_PARAM],
        request=s.ExtensionRequestSerializer,
        responses={201: s.ExtensionSerializer},
        description="延期申请: before the promise is due, with a reason.",
    )
    def post(self, request, number):
        form = s.ExtensionRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ticket = get_ticket(request, number)
        row = services.ticket_request_extension(
            ticket=ticket,
            by=request.user,
            expected_version=if_match_version(request, ticket),
            **form.validated_data,
        )
        return Response(s.ExtensionSerializer(row).data, status=201)


class ExtensionDecisionView(GenericAPIView):
    serializer_class = s.DecisionSerializer
    approve = True

    def post(self, request, number, pk):
        form = s.DecisionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ticket = get_ticket(request, number)
        row = get_child(ticket.extensions.all(), pk)
        row = services.ticket_decide_extension(
            request=row,
            by=request.user,
            approve=self.approve,
            note=form.validated_data.get("note", ""),
            expected_version=if_match_version(request, ticket),
        )
        return Response(s.ExtensionSerializer(row).data)


class ExtensionApproveView(ExtensionDecisionView):
    approve = True

    @_schema(
        "tickets_extensions_approve",
        "records",
        parameters=[PK_PARAM, IF_MATCH_PARAM],
        responses={200: s.ExtensionSerializer},
        description="Approve: the promise's effective due time moves; the original stays.",
    )
    def post(self, request, number, pk):
        return super().post(request, number, pk)


class ExtensionRefuseView(ExtensionDecisionView):
    approve = False

    @_schema(
        "tickets_extensions_refuse",
        "records",
        parameters=[PK_PARAM, IF_MATCH_PARAM],
        responses={200: s.ExtensionSerializer},
    )
    def post(self, request, number, pk):
        return super().post(request, number, pk)


class SuspensionsView(_TicketRecords):
    serializer_class = s.SuspensionSerializer
    related, select = "suspensions", ("requested_by", "decided_by")

    @_schema(
        "tickets_suspensions_list", "records", responses={200: s.SuspensionSerializer(many=True)}
    )
    def get(self, request, number):
        return self.list(request, number)

    @_schema(
        "tickets_suspensions_create",
        "records",
        parameters=[IF_MATCH_PARAM],
        request=s.SuspendSerializer,
        responses={201: s.SuspensionSerializer},
        description="A handler asks to suspend for a customer-side reason until a time; a lead "
        "or supervisor approves.",
    )
    def post(self, request, number):
        form = s.SuspendSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ticket = get_ticket(request, number)
        row = services.ticket_request_suspension(
            ticket=ticket,
            by=request.user,
            expected_version=if_match_version(request, ticket),
            **form.validated_data,
        )
        return Response(s.SuspensionSerializer(row).data, status=201)


class SuspensionApproveView(GenericAPIView):
    serializer_class = s.EmptySerializer

    @_schema(
        "tickets_suspensions_approve",
        "records",
        parameters=[PK_PARAM, IF_MATCH_PARAM],
        request=None,
        responses={200: s.SuspensionSerializer},
        description="Approve: the order is suspended and its promise clock pauses.",
    )
    def post(self, request, number, pk):
        ticket = get_ticket(request, number)
        row = get_child(ticket.suspensions.all(), pk)
        services.ticket_approve_suspension(
            request=row, by=request.user, expected_version=if_match_version(request, ticket)
        )
        row.refresh_from_db()
        return Response(s.SuspensionSerializer(row).data)


class SuspensionRefuseView(GenericAPIView):
    serializer_class = s.DecisionSerializer

    @_schema(
        "tickets_suspensions_refuse",
        "records",
        parameters=[PK_PARAM, IF_MATCH_PARAM],
        responses={200: s.SuspensionSerializer},
    )
    def post(self, request, number, pk):
        form = s.DecisionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ticket = get_ticket(request, number)
        row = get_child(ticket.suspensions.all(), pk)
        row = services.ticket_refuse_suspension(
            request=row,
            by=request.user,
            note=form.validated_data.get("note", ""),
            expected_version=if_match_version(request, ticket),
        )
        return Response(s.SuspensionSerializer(row).data)


class AssignView(GenericAPIView):
    serializer_class = s.AssignSerializer

    @_schema(
        "tickets_assign",
        "records",
        parameters=[IF_MATCH_PARAM],
        responses={200: s.TicketDetailSerializer},
        description="指派: a lead names or changes the handler.",
    )
    def post(self, request, number):
        form = s.AssignSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ticket = get_ticket(request, number)
        services.ticket_assign(
            ticket=ticket,
            by=request.user,
            handler=form.validated_data["handler"],
            expected_version=if_match_version(request, ticket),
        )
        return ticket_detail_response(request, ticket)


class CoHandlingView(GenericAPIView):
    serializer_class = s.CoHandlingSerializer

    @_schema(
        "tickets_cohandling",
        "records",
        parameters=[IF_MATCH_PARAM],
        responses={200: s.TicketDetailSerializer},
        description="协办: a lead asks other departments to support.",
    )
    def post(self, request, number):
        form = s.CoHandlingSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ticket = get_ticket(request, number)
        services.ticket_request_cohandling(
            ticket=ticket,
            by=request.user,
            departments=form.validated_data["departments"],
            note=form.validated_data.get("note", ""),
            expected_version=if_match_version(request, ticket),
        )
        return ticket_detail_response(request, ticket)


class DeclineRedoView(GenericAPIView):
    serializer_class = s.DecisionSerializer

    @_schema(
        "tickets_redo_decline",
        "transitions",
        parameters=[IF_MATCH_PARAM],
        responses={200: s.TicketDetailSerializer},
        description="A supervisor declines the proposed redo: the order closes with the "
        "unsatisfied visit.",
    )
    def post(self, request, number):
        form = s.DecisionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ticket = get_ticket(request, number)
        services.ticket_decline_redo(
            ticket=ticket,
            by=request.user,
            note=form.validated_data.get("note", ""),
            expected_version=if_match_version(request, ticket),
        )
        return ticket_detail_response(request, ticket)


# --------------------------------------------------------------------------- reference


class MeView(GenericAPIView):
    serializer_class = s.MeSerializer

    @extend_schema(operation_id="me", tags=["reference"])
    def get(self, request):
        return Response(s.MeSerializer(request.user).data)


class CategoriesView(GenericAPIView):
    serializer_class = s.CategorySerializer
    queryset = Category.objects.none()

    @extend_schema(
        operation_id="categories_list",
        tags=["reference"],
        responses={200: s.CategorySerializer(many=True)},
    )
    def get(self, request):
        rows = Category.objects.select_related("parent").order_by("sort_order", "id")
        return Response(s.CategorySerializer(rows, many=True).data)


class DepartmentsView(GenericAPIView):
    serializer_class = s.DepartmentSerializer
    queryset = Department.objects.none()

    @extend_schema(
        operation_id="departments_list",
        tags=["reference"],
        responses={200: s.DepartmentSerializer(many=True)},
    )
    def get(self, request):
        return Response(s.DepartmentSerializer(Department.objects.all(), many=True).data)


class NotificationsView(GenericAPIView):
    serializer_class = s.NotificationSerializer
    queryset = Notification.objects.none()
    pagination_class = KeysetPagination
    keyset_default = "-created"
    keyset_orderings = {"-created": [Key("created_at", desc=True), Key("id", desc=True)]}

    @extend_schema(
        operation_id="notifications_list",
        tags=["reference"],
        responses={200: s.NotificationSerializer(many=True)},
    )
    def get(self, request):
        page = self.paginate_queryset(notifications_for(request.user))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class NotificationsReadView(GenericAPIView):
    serializer_class = s.NotificationReadSerializer

    @extend_schema(
        operation_id="notifications_mark_read",
        tags=["reference"],
        responses={200: s.NotificationReadResultSerializer},
    )
    def post(self, request):
        form = s.NotificationReadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        marked = notification_mark_read(user=request.user, ids=form.validated_data.get("ids"))
        return Response({"marked": marked})
