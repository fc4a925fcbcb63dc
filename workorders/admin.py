"""Work-order admin registrations live in the back office (backoffice/ticket_admin.py and
backoffice/reference_admin.py), with their templates and translations."""
