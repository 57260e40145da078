"""Video deraining: video files (through PyAV) and folders of numbered frames.

>>> import sapnet
>>> from sapnet.video import derain_video
>>> model = sapnet.load_model()
>>> report = derain_video("clip.mp4", "out/clip.mp4", model.derain)   # or sapnet.derain_video(…, model=model)

- :func:`derain_video`: same frames, size, pts and time base, audio and subtitles copied,
  rotation kept; resumable segments, overlapped decode/derain/encode (:mod:`.video`).
- :func:`derain_sequence`: a folder of numbered frames into one with the same names (:mod:`.sequence`).
- :class:`TemporalStabiliser`: the temporal stage against flicker (:mod:`.temporal`).
- :func:`synthesize_video`: a rainy clip with its clean ground truth (:mod:`.synthetic`).
- :func:`warping_error`, :func:`score_frames`: temporal consistency and per-frame fidelity (:mod:`.scoring`).
- :func:`is_video_file`, :func:`is_frame_sequence`: routing a command's inputs (:mod:`.files`).

Every input or output that cannot be used raises :class:`VideoError` (a ValueError), one line
naming the file.
"""

import importlib

from sapnet.video.defaults import DEFAULT_CODEC, DEFAULT_CRF, DEFAULT_SEGMENT_FRAMES, TEMPORAL_MODES, VIDEO_EXTENSIONS

# imported on first use: PyAV and OpenCV load only when a video is handled
_EXPORTS = {
    "VideoWriter": "encoding", "available_video_encoders": "encoding",
    "VideoError": "errors",
    "is_frame_sequence": "files", "is_video_file": "files", "list_frames": "files",
    "VideoInfo": "probe", "probe_video": "probe",
    "pair_warping_errors": "scoring", "score_frames": "scoring", "warping_error": "scoring",
    "SequenceReport": "sequence", "derain_sequence": "sequence",
    "SyntheticVideo": "synthetic", "synthesize_video": "synthetic",
    "TemporalStabiliser": "temporal",
    "VideoReport": "video", "derain_video": "video",
}  # fmt: skip
__all__ = ["DEFAULT_CODEC", "DEFAULT_CRF", "DEFAULT_SEGMENT_FRAMES", "TEMPORAL_MODES", "VIDEO_EXTENSIONS", *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sapnet.video' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"sapnet.video.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
