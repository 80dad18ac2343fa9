"""Two views that answer only when the middleware passes a request on."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"django home for {request.get_host()}\n", content_type="text/plain")


def logo(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"django's own logo\n", content_type="text/plain")


urlpatterns = [path("", home), path("logo.png", logo)]
