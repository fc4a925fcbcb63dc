from django.views.i18n import set_language as django_set_language

from .services import user_set_language


def set_language(request):
    """Django's language switch (cookie and redirect), and the signed-in user's saved
    preference, which the notifications and e-mails follow."""
    response = django_set_language(request)
    if request.method == "POST" and request.user.is_authenticated:
        user_set_language(user=request.user, language=request.POST.get("language", ""))
    return response
