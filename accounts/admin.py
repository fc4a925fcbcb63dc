"""Department and user admins live in the back office (backoffice/reference_admin.py)."""
