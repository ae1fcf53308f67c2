"""Everything under /cas/ (e.g. /cas/login, /cas/p3/serviceValidate, /cas/logout)."""

from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("cas/", include("cas_server.urls", namespace="cas_server")),
    path("", RedirectView.as_view(url="/cas/login", query_string=True, permanent=False)),
]
