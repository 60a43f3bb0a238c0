from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader

# Paths whose clients read JSON: their errors are JSON `{"detail": ...}`, never a page.
JSON_PATH_PREFIXES = ("/api/", "/v1/", "/auth/", "/healthz")


def wants_json(request: HttpRequest) -> bool:
    """The JSON endpoints, and any request whose script asks for JSON (the pages' fetch calls
    send `Accept: application/json`)."""
    if request.path.startswith(JSON_PATH_PREFIXES):
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


# --- Error pages (used when DEBUG is off, which is the default) ------------------------------


def _error(request: HttpRequest, status: int, title: str, detail: str, code: str) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"detail": detail, "code": code}, status=status)
    return render(
        request, "common/error.html", {"title": title, "detail": detail, "status": status},
        status=status,
    )  # fmt: skip


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    detail = "The request could not be understood."
    return _error(request, 400, "Bad request", detail, "bad_request")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(
        request, 403, "Not allowed", "You are not allowed to see this.", "permission_denied"
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    detail = "Nothing is here. Check the address."
    return _error(request, 404, "Page not found", detail, "not_found")


def server_error(request: HttpRequest) -> HttpResponse:
    """The last resort: renders without the request context (which may be what failed)."""
    detail = "Something went wrong on our side. It has been logged; please try again."
    if wants_json(request):
        return JsonResponse({"detail": detail, "code": "server_error"}, status=500)
    return HttpResponse(loader.get_template("500.html").render({"detail": detail}), status=500)
