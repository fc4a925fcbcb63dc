"""SLA rule, calendar and clock admins live in the back office (backoffice/sla_admin.py,
backoffice/reference_admin.py)."""
