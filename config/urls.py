from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from accounts.views import set_language
from api.errors import not_found as api_not_found

urlpatterns = [
    path("i18n/setlang/", set_language, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("reports.api_urls")),
    path("api/v1/", include("faults.api_urls")),
    path("api/v1/", include("api.urls")),
    path("api/", include("api.docs_urls")),
    re_path(r"^api/", api_not_found),  # JSON 404 for any other /api/ path
    path("reports/", include("reports.urls")),
    path("", include("monitoring.urls")),
    path("s/", include("customers.urls")),
    path("sms/", include("notifications.urls")),
    path("", include("web.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.STATIC_URL, document_root=settings.STATIC_ROOT)
