from django.utils.functional import SimpleLazyObject

from notifications.selectors import unread_count


def nav(request):
    """The unread badge; lazy, so pages that do not show it (the admin) pay no query."""
    user = getattr(request, "user", None)
    if user is None:
        return {}
    return {"web_unread": SimpleLazyObject(lambda: unread_count(user))}
