"""A derain batch, as ``sapnet derain`` runs it: each input's kind and output path, the checks that
refuse an input before any work (its output is an input, another input already wrote it, the name is
too long, the output exists), and the work on one input: a photo with
:meth:`DerainModel.derain_file`, a video or frame folder with :mod:`sapnet.video` (imported only when
there is one, as PyAV and OpenCV are). Problems come back as one-line messages naming the input."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sapnet.engine.infer.tiling import DEFAULT_OVERLAP, DEFAULT_TILE
from sapnet.images import DEFAULT_MAX_MEGAPIXELS, IMAGE_EXTENSIONS, ImageError, frames_note, output_suffix
from sapnet.video.defaults import DEFAULT_CODEC, DEFAULT_CRF, VIDEO_EXTENSIONS, Progress


@dataclass(frozen=True)
class DerainSettings:
    """How every input of a batch is derained and written (the options of ``sapnet derain``)."""

    max_pixels: int | None = None
    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
    overwrite: bool = False
    temporal: str = "flow"
    crf: int = DEFAULT_CRF
    codec: str = DEFAULT_CODEC


@dataclass(frozen=True)
class Job:
    """One input and where it goes: ``kind`` is ``image``, ``video`` or ``sequence`` (a folder of
    numbered frames, written to a folder of the same name)."""

    source: Path
    kind: str
    target: Path


def input_kind(source: Path) -> str:
    """``image`` or ``video``: by extension, else by probing with FFmpeg where PyAV is installed."""
    suffix = source.suffix.lower()
    if suffix in IMAGE_EXTENSIONS or suffix == ".gif":
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    try:
        from sapnet.video import is_video_file
    except ImportError:
        return "image"  # the image reader says what the file is not
    return "video" if is_video_file(source) else "image"


def plan_jobs(sources: list[Path], sequences: list[Path], out_dir: Path, fmt: str | None) -> list[Job]:
    """A job per input. A photo keeps its name in ``out_dir``, as ``fmt``, else in its own format
    where it is one of :data:`IMAGE_EXTENSIONS`, else as PNG (lossless): a ``.heic`` or
    extensionless input still gets an output Pillow can write. A video keeps its file name."""
    jobs = []
    for source in sources:
        kind = input_kind(source)
        name = source.stem + output_suffix(source.name, fmt) if kind == "image" else source.name
        jobs.append(Job(source, kind, out_dir / name))
    return jobs + [Job(folder, "sequence", out_dir / folder.name) for folder in sequences]


def _name_max(folder: Path) -> int:
    """The longest file name, in bytes, ``folder`` takes (255 where the system cannot say)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # no pathconf (Windows), or no answer
        return 255


def exists_message(job: Job) -> str:
    return f"{job.source}: output {job.target} exists (pass --overwrite to replace it)"


class OutputClaims:
    """The outputs a batch may write. An input's file is never an output; the first input that
    writes a name owns it (a later one of the same name is refused, so nothing is silently
    replaced within a batch); an existing file is kept unless ``overwrite`` (a frame folder
    resumes instead)."""

    def __init__(self, jobs: list[Job], out_dir: Path, overwrite: bool) -> None:
        # realpath, not Path.resolve: it does not raise on a symlink loop
        self._inputs = {os.path.realpath(job.source) for job in jobs}
        self._written: set[str] = set()
        self._name_max = _name_max(out_dir)
        self._out_dir, self._overwrite = out_dir, overwrite

    @property
    def written(self) -> int:
        return len(self._written)

    def refusal(self, job: Job) -> str | None:
        """Why ``job`` may not write its output, or None."""
        resolved = os.path.realpath(job.target)
        name_bytes = len(os.fsencode(job.target.name))
        if resolved in self._inputs:
            return f"{job.source}: output {job.target} is an input file; refusing to overwrite it (choose another -o)"
        if resolved in self._written:
            return f"{job.source}: output {job.target} is already written by another input of the same name"
        if name_bytes > self._name_max:
            return (
                f"{job.source}: output name {job.target.name} is {name_bytes} bytes, "
                f"over the {self._name_max} that {self._out_dir} allows"
            )
        if job.target.exists() and not self._overwrite and job.kind != "sequence":
            return exists_message(job)
        return None

    def claim(self, job: Job) -> None:
        """``job`` has written its output."""
        self._written.add(os.path.realpath(job.target))


def _video_module():
    try:
        import sapnet.video
    except ImportError as missing:
        raise ImageError(f"videos need PyAV and OpenCV ({missing.name} is missing): pip install 'sapnet[video]'") from None
    return sapnet.video


def run_job(job: Job, model, settings: DerainSettings, progress: Progress | None = None) -> list[str]:
    """Derain one input into its target; returns warnings (one line each). Raises
    :class:`sapnet.images.ImageError` or :class:`sapnet.video.errors.VideoError` for an input or
    output that cannot be used, :class:`sapnet.images.OutputExistsError` where another run wrote
    the output meanwhile; on Ctrl-C a video keeps its finished segments."""
    if job.kind == "image":
        loaded = model.derain_file(
            job.source, job.target, settings.max_pixels, settings.tile, settings.overlap,
            settings.max_megapixels, settings.overwrite,
        )  # fmt: skip
        return [f"{job.source}: {frames_note(loaded.frames)}"] if loaded.frames > 1 else []
    video = _video_module()

    def derain_frames(frames):
        return model.derain(frames, settings.max_pixels, settings.tile, settings.overlap)

    if job.kind == "video":
        video.derain_video(
            job.source, job.target, derain_frames, temporal=settings.temporal, crf=settings.crf, codec=settings.codec,
            progress=progress, overwrite=settings.overwrite, model_id=model.source.sha256 or "",
        )  # fmt: skip
    else:
        video.derain_sequence(
            job.source, job.target, derain_frames, temporal=settings.temporal, progress=progress,
            overwrite=settings.overwrite,
        )  # fmt: skip
    return []
