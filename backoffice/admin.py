"""The back office: every admin registration of the project except notifications (owned by
the notifications app). Order pages act only through `workorders.services`; reference data is
editable by superusers only."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.forms import AdminLoginForm
from backoffice.flow_admin import *  # noqa: F403  (registers the department setup admins)
from backoffice.reference_admin import *  # noqa: F403  (registers reference-data admins)
from backoffice.sla_admin import *  # noqa: F403  (registers the SLA rule and calendar admins)
from backoffice.ticket_admin import TicketAdmin  # noqa: F401  (registers the order admin)

# The app list in a left sidebar costs every page ~200px; on a laptop or tablet the order list
# needs them. The index page and breadcrumbs still lead everywhere.
admin.site.enable_nav_sidebar = False

# The product's name on every admin page and in the browser tab, not "Django administration".
admin.site.site_header = _("吹哨 · 工单后台")
admin.site.site_title = _("吹哨工单后台")
admin.site.index_title = _("工作台")

# Django's admin login, plus the lockout message (django-axes) instead of "wrong password".
admin.site.login_form = AdminLoginForm
