"""The Starlette application of ``sapnet serve``: the HTTP API and the page that uses it.

- ``GET /api/models``: the models offered, with their metadata and metrics (JSON list).
- ``GET /api/limits``: the upload and queue limits and the output formats (JSON), for the page.
- ``POST /api/derain``: multipart field ``image`` (the file), optional ``model`` (a name from
  ``/api/models``; default: the server's) and ``format`` (png, jpg, …; default: the upload's,
  as ``sapnet derain`` picks it from the file name). Answers the derained image's bytes with its
  content type, or ``{"error": "…"}`` with 400 (bad request), 413 (upload too large), 422 (not a
  usable image), 503 (queue full; ``Retry-After``) or 500 (the server's own failure).
- ``/``: the page, and ``/static/``: its script and style, which load nothing from anywhere else.

Uploads are written to the server's temporary folder under names made by the server, never
taken from the request, removed once their job ends; the folder goes when the server stops.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import sys
import tempfile
import traceback
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sapnet.images import ImageError, output_suffix
from sapnet.serve.guard import RequestGuard, error_response, too_large
from sapnet.serve.jobs import OUTPUT_FORMATS, derain_image_file
from sapnet.serve.models import ModelCatalogue
from sapnet.serve.work_queue import QueueFull, WorkQueue
from sapnet.text import one_line

STATIC_DIR = Path(__file__).parent / "static"
RETRY_AFTER_SECONDS = 5
_MAX_NAME_LENGTH = 120


@dataclass(frozen=True)
class Limits:
    """What one server accepts: the request body size, the image size, the queued jobs."""

    max_upload_bytes: int
    max_megapixels: float
    queue_places: int


class _BadRequest(ValueError):
    pass


class _TooLarge(ValueError):
    pass


class UploadFolder:
    """The server's temporary folder. Each upload gets a fresh name made here; the folder and
    whatever is left in it are removed when the server stops."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self._numbers = itertools.count(1)

    def create(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="sapnet-serve-"))

    def remove(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)

    def new_file(self) -> Path:
        return self.path / f"upload-{next(self._numbers)}"


def upload_name(filename: str | None) -> str:
    """The name to call an upload by in messages and downloads: the client's file name without
    any folder, on one line, shortened; it names nothing on this machine."""
    base = (filename or "").replace("\\", "/").rpartition("/")[2].strip()
    return one_line(base)[:_MAX_NAME_LENGTH] or "upload"


def _attachment(name: str) -> str:
    """A Content-Disposition header naming the download ``name`` (RFC 6266, with an ASCII fallback)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


def _form_text(form, field: str) -> str | None:
    value = form.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _BadRequest(f"the field {field!r} must be text, not a file")
    return value


def _read_form(form, catalogue: ModelCatalogue) -> tuple[UploadFile, str, str | None]:
    """The upload, the model name and the output format of a derain request."""
    upload = form.get("image")
    if not isinstance(upload, UploadFile):
        raise _BadRequest("no image: send the file as the multipart/form-data field 'image' (curl -F image=@photo.jpg)")
    model = _form_text(form, "model") or catalogue.default
    if model not in catalogue.models:
        raise _BadRequest(catalogue.unknown_model_message(model))
    output_format = _form_text(form, "format")
    if output_format is not None:
        output_format = output_format.lower()
        if output_format not in OUTPUT_FORMATS:
            raise _BadRequest(f"unknown format {output_format!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
    return upload, model, output_format


async def _save(upload: UploadFile, target: Path, max_bytes: int) -> None:
    """Copy the upload to ``target``; :class:`_TooLarge` past ``max_bytes``."""
    written = 0
    with open(target, "xb") as out:  # exclusive: the name is new, so nothing is ever overwritten
        while chunk := await upload.read(1 << 20):
            written += len(chunk)
            if written > max_bytes:
                raise _TooLarge
            await run_in_threadpool(out.write, chunk)  # the event loop goes on serving meanwhile


def create_app(catalogue: ModelCatalogue, limits: Limits, allowed_hosts: frozenset[str] | None = None, log=print) -> Starlette:
    """The application serving ``catalogue`` within ``limits``. ``allowed_hosts``: see
    :class:`sapnet.serve.guard.RequestGuard`; ``log`` takes one line per derain request."""
    uploads = UploadFolder()
    work = WorkQueue(limits.queue_places)

    @asynccontextmanager
    async def lifespan(_app):
        uploads.create()
        try:
            yield
        finally:
            uploads.remove()

    async def page(_request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html")

    async def models(_request: Request) -> Response:
        return JSONResponse(catalogue.describe())

    async def limits_endpoint(_request: Request) -> Response:
        return JSONResponse({**asdict(limits), "formats": list(OUTPUT_FORMATS)})

    async def derain(request: Request) -> Response:
        source = uploads.new_file()
        try:
            place = work.reserve(on_release=lambda: source.unlink(missing_ok=True))
        except QueueFull as full:
            log(f"refused (503): {full}")
            return error_response(503, str(full), {"retry-after": str(RETRY_AFTER_SECONDS)})
        name = "upload"
        try:
            form = await request.form(max_files=1, max_fields=2, max_part_size=1024)
            try:
                upload, model, output_format = _read_form(form, catalogue)
                name = upload_name(upload.filename)
                await _save(upload, source, limits.max_upload_bytes)
            finally:
                await form.close()
            suffix = output_suffix(name, output_format)
            result = await place.run(
                lambda: derain_image_file(source, catalogue.get(model), suffix, limits.max_megapixels)
            )
        except _BadRequest as problem:
            log(f"refused (400): {problem}")
            return error_response(400, str(problem))
        except _TooLarge:
            log(f"{name}: refused (413): over {limits.max_upload_bytes} bytes")
            return too_large(limits.max_upload_bytes)
        except asyncio.CancelledError:  # Ctrl-C while the job waited or ran: answer rather than drop it
            log(f"{name}: not derained: the server is stopping")
            return error_response(503, "the server is stopping; this image was not derained")
        except ClientDisconnect:  # nobody to answer; the place and the partial upload are freed
            log(f"{name}: the client left during its upload")
            return Response(status_code=400)
        except ImageError as problem:
            log(f"{name}: refused (422): {problem}")
            return error_response(422, f"{name}: {problem}")
        finally:
            place.release_unless_submitted()
        log(f"{name}: {result.width}×{result.height} derained with {model} in {result.seconds:.2f} s")
        headers = {
            "content-disposition": _attachment(f"{Path(name).stem}_derained{result.suffix}"),
            "cache-control": "no-store",
            "x-sapnet-model": model,
            "x-sapnet-seconds": f"{result.seconds:.3f}",
        }
        if result.warning:
            headers["x-sapnet-warning"] = result.warning
        return Response(result.data, media_type=result.media_type, headers=headers)

    async def http_error(request: Request, error: HTTPException) -> Response:
        message = f"nothing at {request.url.path}" if error.status_code == 404 else str(error.detail)
        return error_response(error.status_code, message, error.headers)

    async def server_error(request: Request, error: Exception) -> Response:
        traceback.print_exception(error, file=sys.stderr)
        return error_response(500, f"the server failed on {request.url.path}: {error.__class__.__name__}: {error}")

    return Starlette(
        routes=[
            Route("/api/models", models, methods=["GET"]),
            Route("/api/limits", limits_endpoint, methods=["GET"]),
            Route("/api/derain", derain, methods=["POST"]),
            Route("/", page, methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR)),
        ],
        middleware=[Middleware(RequestGuard, max_upload_bytes=limits.max_upload_bytes, allowed_hosts=allowed_hosts)],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
