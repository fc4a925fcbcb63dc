"""SLA policy and clock admins live in the back office (backoffice/reference_admin.py)."""
