"""The video settings a command needs before any video is opened (no PyAV, OpenCV or torch)."""

from collections.abc import Callable

Progress = Callable[[int, "int | None", float], None]  # (frames done, total frames or None, frames per second)

VIDEO_EXTENSIONS = (
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts", ".mts",
    ".wmv", ".flv", ".3gp", ".ogv", ".mxf",
)  # fmt: skip
TEMPORAL_MODES = ("off", "flow")
DEFAULT_CRF = 18  # x264's scale: visually lossless for most footage, so deraining is what shows
DEFAULT_CODEC = "libx264"
DEFAULT_SEGMENT_FRAMES = 250  # x264's default key-frame interval: segments add no key frames beyond it
