"""A test-only API endpoint that reads a JSON body: the public API has none yet, and the
exception handler's answers to bad bodies (too large, malformed, wrong media type, too many
form fields) must hold for the first one that does."""

from __future__ import annotations

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class EchoApi(APIView):
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        return Response({"received": request.data})


urlpatterns = [path("api/v1/echo", EchoApi.as_view())]
