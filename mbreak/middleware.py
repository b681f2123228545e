import logging
import os
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

request_logger = logging.getLogger("mbreak.requests")

# Scripts only from our own static files: no inline script, no eval, no CDN. plotly.js
# writes <style> elements and seaborn's chart is a PNG, hence the style and img sources.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # The admin ships inline scripts of its own; it keeps Django's defaults.
        if not request.path.startswith("/admin/"):
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class HealthCheckMiddleware:
    """Answer GET /healthz before host validation, sessions or login: the load balancer asks
    by the instance's private address, with no cookie. It says whether the database, the
    cache and the job broker answer; 503 only when the database does not. The cache and the
    broker are Redis, shared by every instance: pages and verdicts go on without it (jobs
    are refused with a message, rates are not counted, both logged), and replacing
    instances, which is what a failing health check makes the balancer do, would not bring
    it back (a Redis blip would fail every instance, and a deployment with them)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path != "/healthz":
            return self.get_response(request)
        from mbreak import health

        checks = health.report()
        response = JsonResponse(checks, status=200 if checks["database"] else 503)
        response["Cache-Control"] = "no-store"
        return response


class RequestLogMiddleware:
    """One log line per request: method, path, status, duration and user, as JSON fields."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        request_logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "user_id": user.pk if user is not None and user.is_authenticated else None,
                "pid": os.getpid(),  # which server process answered (is one of them the busy one?)
            },
        )
        return response
