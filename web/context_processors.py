from django.utils.functional import SimpleLazyObject

from notifications.selectors import unread_count


def nav(request):
    """The unread badge; lazy, so pages that do not show it (the admin) pay no query."""
    user = getattr(request, "user", None)
    if user is None:
        return {}
    return {
        "web_unread": SimpleLazyObject(lambda: unread_count(user)),
        "web_staff": SimpleLazyObject(lambda: staff_nav(user)),
    }


def staff_nav(user) -> dict:
    """Which phone menu entries this user gets: handlers and leads their queue (leads also
    the approvals); the report and my-orders entries for whoever may report."""
    from workorders.permissions import may

    from .staff import uses_staff_pages

    if not user.is_authenticated:
        return {"queue": False, "lead": False, "report": True}
    queue = uses_staff_pages(user)
    return {
        "queue": queue,
        "lead": "lead" in user.roles,
        "report": not queue or may(user, "report"),
    }
