"""What every request passes first: the upload size limit, the checks that keep other web sites
out of a server on the loopback address, and the headers that keep the page self-contained.

- A body over the upload limit (plus room for the multipart form around the file) gets 413
  before it is read (by its ``Content-Length``) or as soon as the bytes read pass the limit (a
  chunked upload has no length to check). The page checks a file's size before sending it, so a
  browser is not cut off mid-upload; the API checks the file itself exactly once it is saved.
- A ``Host`` header that names another machine gets 421 while the server listens on loopback
  only: a page on a web site whose name an attacker points at 127.0.0.1 (DNS rebinding) cannot
  talk to it.
- A POST from a page of another origin (its ``Origin`` header) gets 403: another web site
  cannot make the browser upload to this server.
- Every response carries a Content-Security-Policy that lets the page load nothing from
  anywhere but this server, and asks the browser to revalidate what it cached (so a page of an
  older sapnet is not used after an upgrade).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse

from sapnet.text import one_line

DEFAULT_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",  # a response that sets its own (a derained image: no-store) keeps it
}
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# the form's own bytes around the file (boundaries, part headers, the model and format fields),
# so that a file just under the limit is not refused for its envelope
MULTIPART_ALLOWANCE = 64 * 1024


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The server's one shape of error: ``{"error": "one line"}`` with an HTTP status."""
    return JSONResponse({"error": one_line(message)}, status_code=status, headers=headers)


def host_name(host_header: str) -> str:
    """The host of a ``Host`` header or URL authority, without port or IPv6 brackets, lower case."""
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")].lower()
    return host_header.rpartition(":")[0].lower() if ":" in host_header else host_header.lower()


def too_large(max_upload_bytes: int) -> JSONResponse:
    return error_response(413, f"upload over the server's {max_upload_bytes / 1e6:g} MB limit")


class _BodyTooLarge(Exception):
    pass


class RequestGuard:
    """ASGI middleware applying the rules of this module.

    ``allowed_hosts``: the host names the ``Host`` header may give, or None to accept any (a
    server listening on another interface is reached by names this one cannot know)."""

    def __init__(self, app, max_upload_bytes: int, allowed_hosts: frozenset[str] | None) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes
        self.max_body_bytes = max_upload_bytes + MULTIPART_ALLOWANCE
        self.allowed_hosts = allowed_hosts

    def _too_large(self) -> JSONResponse:
        return too_large(self.max_upload_bytes)

    def _refusal(self, scope, headers: Headers) -> JSONResponse | None:
        host = headers.get("host", "")
        if self.allowed_hosts is not None and host_name(host) not in self.allowed_hosts:
            return error_response(421, f"this server answers to {', '.join(sorted(self.allowed_hosts))}, not {host!r}")
        origin = headers.get("origin")
        if scope["method"] not in ("GET", "HEAD") and origin is not None and urlsplit(origin).netloc.lower() != host.lower():
            return error_response(403, f"requests from the page {origin!r} are refused: use the page this server serves")
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            return self._too_large()
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope, Headers(scope=scope))
        if refusal is not None:
            await refusal(scope, receive, self._with_headers(send))
            return
        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        send_with_headers = self._with_headers(send)

        async def tracked_send(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_headers(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._too_large()(scope, receive, send_with_headers)

    @staticmethod
    def _with_headers(send):
        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in DEFAULT_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        return send_with_headers
