from .urls import docs_urlpatterns as urlpatterns

__all__ = ["urlpatterns"]
