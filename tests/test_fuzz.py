"""Property tests (Hypothesis): generated bad files, names and arrays thrown at ``sapnet derain``
and the Python API, checked against the contract of issue 14: no traceback, one line naming each
refused item, no input changed, no output that is non-finite or half-written."""

from __future__ import annotations

import io
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

import sapnet
from sapnet.cli import main
from sapnet.text import one_line
from sapnet.images import ImageError

from .conftest import tiny_model

# Each example runs a tiny model on tiny images: the module takes well under a minute.
FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _encoded(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)  # the mode follows the dtype and shape
    return buffer.getvalue()


@st.composite
def file_contents(draw) -> bytes:
    """Good images of every mode, and the ways a file goes bad: random, empty, cut, corrupted."""
    height, width = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    kind = draw(st.sampled_from(["rgb", "gray", "rgba", "gray16", "float", "random", "empty"]))
    if kind == "random":
        return draw(st.binary(max_size=300))
    if kind == "empty":
        return b""
    if kind == "float":
        values = rng.random((height, width)).astype(np.float32)
        spoil = draw(st.sampled_from([None, np.nan, np.inf, -np.inf, 255.0, -1.0]))
        if spoil is not None:
            values[rng.integers(height), rng.integers(width)] = spoil
        data = _encoded(values, "TIFF")
    else:
        shape, dtype = {
            "rgb": ((height, width, 3), np.uint8),
            "gray": ((height, width), np.uint8),
            "rgba": ((height, width, 4), np.uint8),
            "gray16": ((height, width), np.uint16),
        }[kind]
        array = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
        data = _encoded(array, draw(st.sampled_from(["PNG", "TIFF"] if kind == "gray16" else ["PNG", "JPEG", "BMP", "WEBP"] if kind == "rgb" else ["PNG", "TIFF"])))
    damage = draw(st.sampled_from(["none", "cut", "flip"]))
    if damage == "cut":
        return data[: draw(st.integers(0, len(data) - 1))]
    if damage == "flip":
        position = draw(st.integers(0, len(data) - 1))
        return data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1 :]
    return data


NAME_CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00")
file_names = st.tuples(
    st.text(NAME_CHARACTERS, min_size=1, max_size=20).filter(lambda stem: stem not in (".", "..") and not stem.startswith(".")),
    st.sampled_from(["", ".png", ".PNG", ".jpg", ".tif", ".heic", ".gif", ".txt"]),
).map("".join)


def _error_lines_are_one_per_item(lines: list[str]) -> None:
    assert not any("Traceback" in line for line in lines), lines
    assert all(line.startswith(("error: ", "warning: ")) for line in lines), lines


@settings(FUZZ, max_examples=15)
@given(files=st.lists(st.tuples(file_names, file_contents()), min_size=1, max_size=4, unique_by=lambda item: item[0].lower()))
def test_derain_on_generated_files_keeps_the_contract(tiny_weights, capsys, files):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "in").mkdir()
        paths = []
        for name, content in files:
            path = root / "in" / name
            path.write_bytes(content)
            paths.append(path)
        out = root / "out"
        with warnings.catch_warnings(record=True) as caught:  # Python warnings print several lines
            warnings.simplefilter("always")
            code = main(["derain", *map(str, paths), "-o", str(out), "--weights", str(tiny_weights), "--quiet"])
        assert [str(warning.message) for warning in caught] == []
        lines = capsys.readouterr().err.splitlines()
        _error_lines_are_one_per_item(lines)
        assert code in (0, 1, 2)
        for path, (_, content) in zip(paths, files):
            assert path.read_bytes() == content  # no input changed
        errors = [line for line in lines if line.startswith("error: ")]
        written = sorted(out.iterdir()) if out.exists() else []
        assert not [p for p in written if p.name.startswith(".")], "a temporary file was left"
        # every input is accounted for: an output or an error line that names it
        assert len(written) + len(errors) == len(paths), (lines, written)
        for path in paths:
            assert any(one_line(str(path)) in line for line in errors) or any(p.stem == path.stem for p in written)
        assert (code == 0) == (not errors)
        for output in written:
            with Image.open(output) as image:
                assert np.isfinite(np.asarray(image, dtype=np.float64)).all()


MODEL = tiny_model()
DTYPES = st.sampled_from([np.uint8, np.uint16, np.float16, np.float32, np.float64, np.int32, np.bool_])


@FUZZ
@given(array=hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6)))
def test_the_api_on_generated_arrays_returns_a_finite_image_like_it_or_refuses(array):
    before = array.copy()
    try:
        result = sapnet.derain(array, MODEL)
    except (ImageError, TypeError) as refusal:
        assert "\n" not in str(refusal) and str(refusal)
    else:
        assert result.shape == array.shape and result.dtype == array.dtype
        assert np.isfinite(result.astype(np.float64)).all()
    np.testing.assert_array_equal(array, before)


@FUZZ
@given(
    shape=st.lists(st.integers(0, 6), min_size=1, max_size=5),
    dtype=st.sampled_from([torch.float32, torch.float64, torch.uint8, torch.int64]),
    fill=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none()),
)
def test_the_api_on_generated_tensors_returns_a_finite_tensor_or_refuses(shape, dtype, fill):
    tensor = torch.rand(shape).to(dtype) if fill is None else torch.full(shape, fill, dtype=torch.float64).to(dtype)
    before = tensor.clone()
    try:
        result = sapnet.derain(tensor, MODEL)
    except ImageError as refusal:
        assert "\n" not in str(refusal) and str(refusal)
    else:
        assert result.shape == tensor.shape and torch.isfinite(result).all()
        assert 0 <= float(result.min()) and float(result.max()) <= 1
    assert torch.equal(tensor, before) or (torch.isnan(tensor).all() and torch.isnan(before).all())


@settings(FUZZ, max_examples=10)
@given(files=st.lists(st.tuples(file_names, file_contents()), min_size=1, max_size=3, unique_by=lambda item: item[0].lower()))
def test_synth_on_generated_photos_keeps_the_contract(capsys, files):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "clean").mkdir()
        for name, content in files:
            (root / "clean" / name).write_bytes(content)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = main(["synth", str(root / "clean"), str(root / "out"), "--preset", "light"])
        assert [str(warning.message) for warning in caught] == []
        lines = capsys.readouterr().err.splitlines()
        assert not any("Traceback" in line for line in lines), lines
        assert code in (0, 1, 2)
        for name, content in files:
            assert (root / "clean" / name).read_bytes() == content
        for image_path in (root / "out").rglob("*") if (root / "out").exists() else []:
            assert not image_path.name.startswith("."), "a temporary file was left"
            if image_path.is_file():
                with Image.open(image_path) as image:
                    assert np.isfinite(np.asarray(image, dtype=np.float64)).all()


CONFIG_KEYS = st.sampled_from(
    ["optim.lr", "optim.batch_size", "optim.milestones", "optim.epochs", "optim.gamma", "model.stages",
     "model.attention", "data.crop", "data.presets", "run.checkpoint_every", "run.device", "run.amp_cpu",
     "loss.ssim", "loss.lpips.net", "loss.contrastive.kind", "loss.l1.weight", "loss.unknown", "optim", "nosuch.key"]
)
CONFIG_VALUES = st.one_of(
    st.integers(-3, 1000).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["fast", "two", "[]", "[1, 2]", "[a, b]", "{x: 1}", "null", "true", "'", "[", "cuda", "off", "pcl", "alex"]),
    st.text(NAME_CHARACTERS, max_size=8),
)


@FUZZ
@given(overrides=st.lists(st.tuples(CONFIG_KEYS, CONFIG_VALUES).map("=".join), min_size=1, max_size=3))
def test_the_config_loader_on_generated_overrides_accepts_or_names_the_key(overrides):
    from sapnet.engine.train.config import ConfigError, load_config

    config_keys = {override.split("=", 1)[0] for override in overrides}
    try:
        load_config(None, [*overrides, "data.synthetic=photos"])
    except ConfigError as refusal:
        message = str(refusal)
        assert "\n" not in message and ": " in message
        assert message.split(":", 1)[0].split(".")[0] in {key.split(".")[0] for key in config_keys} | {"data"}, message
