"""One upload derained as ``sapnet derain`` derains one file (:meth:`DerainModel.derain_file`),
so the page and the API give what the command gives for the same file.

Jobs run on the server's worker thread (:mod:`sapnet.serve.work_queue`), one at a time: a job is
a plain function from files in the server's temporary folder to bytes. Video is the next kind of
job: a ``derain_video_file(source, model, …)`` beside :func:`derain_image_file`, calling
:func:`sapnet.video.derain_video`, run on the same queue behind its own endpoint (answering a job
to poll rather than waiting, since a clip takes minutes) and routed to by ``kindOf`` in
``static/app.js``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sapnet.engine.infer.model import DerainModel
from sapnet.images import IMAGE_EXTENSIONS, ImageError, frames_note

MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".webp": "image/webp",
}
OUTPUT_FORMATS = tuple(suffix.lstrip(".") for suffix in IMAGE_EXTENSIONS)


@dataclass(frozen=True)
class DerainedImage:
    """A derained upload, encoded: what ``POST /api/derain`` sends back."""

    data: bytes
    suffix: str
    width: int
    height: int
    seconds: float
    warning: str | None = None  # e.g. only the first frame of an animated GIF was derained

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.suffix]


def derain_image_file(source: Path, model: DerainModel, suffix: str, max_megapixels: float) -> DerainedImage:
    """Derain the image file ``source`` with ``model`` and encode it as ``suffix``.

    The encoded file is written beside ``source`` (the server's temporary folder) by the
    command's own writer, read back and removed. Raises :class:`ImageError` for a file that is
    not a usable image, with the message of ``sapnet derain`` less the temporary path."""
    started = time.perf_counter()
    target = source.with_name(source.name + "-derained" + suffix)
    try:
        loaded = model.derain_file(source, target, max_megapixels=max_megapixels)
        data = target.read_bytes()
    except ImageError as problem:
        raise ImageError(str(problem).removeprefix(f"{source}: ")) from None
    finally:
        target.unlink(missing_ok=True)
    height, width = loaded.rgb.shape[-2:]
    warning = frames_note(loaded.frames) if loaded.frames > 1 else None
    return DerainedImage(data, suffix, width, height, time.perf_counter() - started, warning)
