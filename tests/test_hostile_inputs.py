"""Issue 14, ``sapnet derain`` and the Python API: each hostile input, race or fault reproduced,
and what it gets: one ``error: FILE: problem`` line (the rest of the batch still runs), a
refusal from the API, or a kept result; never a traceback, a blank output or a lost file."""

from __future__ import annotations

import io
import os
import signal
import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

import sapnet
from sapnet.cli import main
from sapnet.commands import derain as derain_command
from sapnet.engine.infer.model import DerainModel
from sapnet.images import ImageError, OutputExistsError, read_image, write_image
from sapnet.models import CheckpointError, load_checkpoint, save_checkpoint

from .conftest import tiny_model


def _rgb(width: int = 23, height: int = 17, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((height, width, 3)) * 255).astype(np.uint8)


@pytest.fixture
def derain(tiny_weights, capsys):
    """Run ``sapnet derain`` in-process; returns (exit code, stderr lines)."""

    def run(*args):
        code = main(["derain", *map(str, args), "--weights", str(tiny_weights), "--quiet"])
        return code, capsys.readouterr().err.splitlines()

    return run


@pytest.fixture
def model():
    return tiny_model()


def _float_tiff(path, values: np.ndarray) -> None:
    Image.fromarray(values.astype(np.float32), mode="F").save(path)


# 1. two runs into one folder


def test_an_output_that_appears_while_deraining_is_kept_and_reported(tmp_path, derain, monkeypatch):
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    out = tmp_path / "out"
    real = DerainModel.derain

    def other_run_writes_first(*args, **kwargs):
        (out / "a.png").write_bytes(b"the other run's result")
        return real(*args, **kwargs)

    monkeypatch.setattr(DerainModel, "derain", other_run_writes_first)
    code, lines = derain(tmp_path / "a.png", "-o", out)
    assert code == 1
    assert lines == [f"error: {tmp_path / 'a.png'}: output {out / 'a.png'} exists (pass --overwrite to replace it)"]
    assert (out / "a.png").read_bytes() == b"the other run's result"
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]  # no temporary file left


def test_write_image_without_overwrite_never_replaces(tmp_path):
    target = tmp_path / "x.png"
    target.write_bytes(b"first")
    with pytest.raises(OutputExistsError):
        write_image(Image.fromarray(_rgb()), target, overwrite=False)
    assert target.read_bytes() == b"first" and sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]
    write_image(Image.fromarray(_rgb()), tmp_path / "y.png", overwrite=False)
    assert Image.open(tmp_path / "y.png").size == (23, 17)


# 2, 3. non-finite pixels and values out of range


def test_non_finite_and_out_of_range_float_tiffs_are_refused_and_the_rest_runs(tmp_path, derain):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_rgb()).save(src / "good.png")
    values = np.random.default_rng(0).random((17, 23))
    nan = values.copy()
    nan[3, 4] = np.nan
    _float_tiff(src / "nan.tif", nan)
    infinite = values.copy()
    infinite[0, 0] = np.inf
    _float_tiff(src / "inf.tif", infinite)
    _float_tiff(src / "bytes.tif", values * 255)
    _float_tiff(src / "unit.tif", values)
    code, lines = derain(src, "-o", tmp_path / "out")
    assert code == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.png", "unit.tif"]
    errors = {line.split(": ")[1].rsplit("/", 1)[-1]: line for line in lines}
    assert "1 pixel(s) are NaN or infinite" in errors["nan.tif"]
    assert "NaN or infinite" in errors["inf.tif"]
    assert "outside [0, 1]" in errors["bytes.tif"]
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)


@pytest.mark.parametrize(
    "image, problem",
    [
        (np.full((8, 8, 3), np.nan, dtype=np.float32), "NaN or infinite"),
        (np.where(np.eye(8, dtype=bool)[..., None], np.inf, 0.5).repeat(3, axis=2).astype(np.float32), "8 pixel\\(s\\) are NaN"),
        (np.full((8, 8, 3), 200.0, dtype=np.float32), "outside \\[0, 1\\]"),
        (torch.full((3, 8, 8), 200, dtype=torch.uint8), "expected float pixel values"),
        (torch.full((1, 3, 8, 8), -0.5), "outside \\[0, 1\\]"),
        (np.zeros((0, 0, 3), dtype=np.float32), "empty"),
        (torch.zeros(3, 0, 5), "empty"),
        (torch.zeros(4, 8, 8), "got shape \\(4, 8, 8\\)"),
        (np.zeros((8, 8, 5), dtype=np.uint8), "got shape \\(8, 8, 5\\)"),
    ],
    ids=["nan", "inf-diagonal", "float-0-255", "uint8-tensor", "negative", "empty-array", "empty-tensor", "4-channel-tensor", "5-channel-array"],
)
def test_the_api_refuses_what_the_network_must_not_see(model, image, problem):
    before = image.copy() if isinstance(image, np.ndarray) else image.clone()
    with pytest.raises(ImageError, match=problem):
        sapnet.derain(image, model)
    np.testing.assert_array_equal(np.asarray(image), np.asarray(before))  # the input is not changed


def test_the_api_never_returns_a_non_finite_result(model):
    broken = tiny_model()
    with torch.no_grad():
        broken.decoder.bias.fill_(float("nan"))
    with pytest.raises(ImageError, match="NaN or infinite for a finite input"):
        sapnet.derain(torch.rand(3, 8, 8), broken)
    result = sapnet.derain(np.random.default_rng(0).random((8, 8, 3)).astype(np.float32), model)
    assert np.isfinite(result).all() and result.shape == (8, 8, 3)


# 5, 6. tracebacks instead of one line


def test_a_symlink_loop_on_the_command_line_is_one_line(tmp_path, derain):
    Image.fromarray(_rgb()).save(tmp_path / "good.png")
    os.symlink(tmp_path / "loop.png", tmp_path / "loop.png")
    code, lines = derain(tmp_path / "loop.png", tmp_path / "good.png", "-o", tmp_path / "out")
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith(f"error: {tmp_path / 'loop.png'}: cannot be read (") and "link" in lines[0]
    assert (tmp_path / "out" / "good.png").exists()


def test_a_broken_link_inside_a_folder_is_named_not_skipped(tmp_path, derain):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(_rgb()).save(photos / "good.png")
    os.symlink(tmp_path / "gone.png", photos / "moved.png")
    (photos / "notes.txt").write_text("not an image")  # other files are still passed over
    code, lines = derain(photos, "-o", tmp_path / "out")
    assert code == 1
    assert lines == [f"error: {photos / 'moved.png'}: broken symbolic link (to {tmp_path / 'gone.png'}, which does not exist)"]
    assert (tmp_path / "out" / "good.png").exists()


@pytest.mark.parametrize(
    "options, problem",
    [
        (["--tile", "0"], "tile must be a positive number of pixels, got 0"),
        (["--tile", "-5"], "tile must be a positive number of pixels, got -5"),
        (["--tile", "64", "--overlap", "64"], "overlap (64) must be smaller than the tile (64)"),
        (["--overlap", "-1"], "overlap must be 0 or more pixels, got -1"),
        (["--max-pixels", "0"], "max_pixels must be a positive number of pixels, got 0"),
        (["--max-megapixels", "nan"], "--max-megapixels must be positive, got nan"),
    ],
)
def test_impossible_options_are_refused_before_the_model_loads(tmp_path, capsys, monkeypatch, options, problem):
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    monkeypatch.setattr(derain_command, "load_model", lambda *args, **kwargs: pytest.fail("the model was loaded"))
    code = main(["derain", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), *options])
    assert code == 2 and capsys.readouterr().err.splitlines() == [f"error: {problem}"]


def _onnx_identity(path, input_name: str) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", [input_name], ["y"])],
        "foreign",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    onnx.save(helper.make_model(graph), path)


def test_random_or_foreign_onnx_weights_are_one_line(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    (tmp_path / "random.onnx").write_bytes(os.urandom(256))
    _onnx_identity(tmp_path / "foreign.onnx", "x")
    for name, problem in (("random.onnx", "not a loadable ONNX model"), ("foreign.onnx", "not a 'sapnet export' model")):
        code = main(["derain", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--weights", str(tmp_path / name)])
        lines = capsys.readouterr().err.splitlines()
        assert code == 2 and len(lines) == 1, lines
        assert lines[0].startswith(f"error: {tmp_path / name}: {problem}")
    assert not (tmp_path / "out" / "a.png").exists()


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_a_pickle_that_is_not_plain_tensors_is_one_line_without_the_unsafe_advice(tmp_path):
    path = tmp_path / "payload.pth"
    torch.save({"weight": torch.zeros(2), "payload": _Payload()}, path)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not a loadable checkpoint (not a pickle of plain tensors")
    assert "\n" not in message and "weights_only=False" not in message and "weights_only" not in message.replace("Weights only", "")


def test_a_checkpoint_asking_for_absurd_stages_or_holding_nan_is_refused(tmp_path):
    path = save_checkpoint(tiny_model(), tmp_path / "tiny.safetensors")
    with pytest.raises(CheckpointError, match="stages must be at most 32"):
        load_checkpoint(path, stages=100000)
    broken = tiny_model()
    with torch.no_grad():
        broken.decoder.weight[0, 0, 0, 0] = float("inf")
    with pytest.raises(CheckpointError, match="NaN or infinite values \\(decoder.weight\\)"):
        load_checkpoint(save_checkpoint(broken, tmp_path / "inf.safetensors"))


# 8. several frames


def test_animated_gif_says_only_the_first_frame_is_derained(tmp_path, derain, model):
    frames = [Image.fromarray(_rgb(seed=seed)).convert("P") for seed in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    code, lines = derain(tmp_path / "anim.gif", "-o", tmp_path / "out")
    assert code == 0 and lines == [f"warning: {tmp_path / 'anim.gif'}: has 3 frames (animated or multi-page); only the first is derained"]
    assert Image.open(tmp_path / "out" / "anim.png").size == (23, 17)  # GIF is not an output format
    with Image.open(tmp_path / "anim.gif") as image, pytest.warns(UserWarning, match="has 3 frames"):
        sapnet.derain(image, model)


# 9. the megapixel limit is ours, not Pillow's


def test_max_megapixels_governs_over_pillows_own_limit(tmp_path, monkeypatch):
    Image.fromarray(_rgb(40, 30)).save(tmp_path / "a.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow would refuse above 200 pixels
    assert read_image(tmp_path / "a.png", max_megapixels=0.01).rgb.shape == (3, 30, 40)
    assert Image.MAX_IMAGE_PIXELS == 100
    with pytest.raises(ImageError, match="40×30 is 0 megapixels, over the 0.001 MP limit"):
        read_image(tmp_path / "a.png", max_megapixels=0.001)


# 10. write-time failures found before the work


def test_inputs_pillow_cannot_write_come_out_as_png(tmp_path, derain):
    Image.fromarray(_rgb()).save(tmp_path / "photo.heic", format="PNG")
    Image.fromarray(_rgb()).save(tmp_path / "noextension", format="PNG")
    code, lines = derain(tmp_path / "photo.heic", tmp_path / "noextension", "-o", tmp_path / "out")
    assert (code, lines) == (0, [])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["noextension.png", "photo.png"]


def test_names_at_and_over_the_file_system_limit(tmp_path, derain):
    at_limit = "n" * 251 + ".png"  # 255 bytes, the usual NAME_MAX
    Image.fromarray(_rgb()).save(tmp_path / at_limit)
    over = "o" * 251 + ".tif"  # 255 bytes, but 256 as .tiff
    Image.fromarray(_rgb()).save(tmp_path / over)
    code, lines = derain(tmp_path / at_limit, "-o", tmp_path / "out")
    assert (code, lines) == (0, []) and (tmp_path / "out" / at_limit).exists()
    code, lines = derain(tmp_path / over, "-o", tmp_path / "out2", "--format", "tiff")
    assert code == 1 and len(lines) == 1 and "is 256 bytes, over the 255" in lines[0]


def test_an_unwritable_output_folder_is_found_before_any_image_is_derained(tmp_path, derain, monkeypatch):
    Image.fromarray(_rgb()).save(tmp_path / "a.png")

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(derain_command.tempfile, "TemporaryFile", refused)
    monkeypatch.setattr(derain_command, "load_model", lambda *args, **kwargs: pytest.fail("the model was loaded"))
    code, lines = derain(tmp_path / "a.png", "-o", tmp_path / "out")
    assert code == 2 and lines == [f"error: {tmp_path / 'out'}: cannot write in the output folder (Permission denied)"]


# 11. SIGTERM


def test_sigterm_while_writing_leaves_no_temporary_file_and_says_interrupted(tmp_path, derain, monkeypatch):
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    real_save = Image.Image.save

    def save_then_get_killed(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(Image.Image, "save", save_then_get_killed)
    handler = signal.getsignal(signal.SIGTERM)
    code, lines = derain(tmp_path / "a.png", "-o", tmp_path / "out")
    assert code == 130 and lines == ["interrupted"]
    assert list((tmp_path / "out").iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is handler  # the command's handler is gone again


# 12. ICC profile and EXIF


def test_icc_profile_and_exif_are_kept_with_the_orientation_reset(tmp_path, derain):
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = Image.fromarray(_rgb(30, 20))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "RainCam"  # Make
    image.save(tmp_path / "photo.jpg", exif=exif, icc_profile=profile)
    cmyk = Image.new("CMYK", (8, 8), (0, 50, 100, 0))
    cmyk.save(tmp_path / "cmyk.jpg", icc_profile=b"not a profile")
    code, lines = derain(tmp_path / "photo.jpg", tmp_path / "cmyk.jpg", "-o", tmp_path / "out")
    assert (code, lines) == (0, [])
    with Image.open(tmp_path / "out" / "photo.jpg") as out:
        assert out.size == (20, 30) and out.info.get("icc_profile") == profile
        assert out.getexif().get(0x010F) == "RainCam" and out.getexif().get(0x0112, 1) == 1
    with Image.open(tmp_path / "out" / "cmyk.jpg") as out:
        assert out.mode == "RGB" and not out.info.get("icc_profile")


def test_the_api_keeps_the_callers_image_untouched(model):
    image = Image.fromarray(_rgb(30, 20))
    exif = image.getexif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    with Image.open(buffer) as photo:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = sapnet.derain(photo, model)
        assert photo.getexif().get(0x0112) == 6 and photo.size == (30, 20)
    assert result.size == (20, 30)


def test_a_tiff_without_dimensions_is_one_line(tmp_path):
    """Found by the fuzz test: Pillow raises TypeError ("Missing dimensions") for this TIFF."""
    header = (
        b"II*\x00\x08\x00\x00\x00\n\x00\x00\x01\x04\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x01\x04\x00\x01\x00\x00\x00"
        b"\x01\x00\x00\x00\x02\x01\x03\x00\x01\x00\x00\x00 \x00\x00\x00\x03\x01\x03\x00\x01\x00\x00\x00\x01\x00\x00\x00"
        b"\x06\x01\x03\x00\x01\x00\x00\x00\x01\x00\x00\x00\x11\x01\x04\x00\x01\x00\x00\x00\x86\x00\x00\x00\x16\x01\x04"
        b"\x00\x01\x00\x00\x00\x01\x00\x00\x00\x17\x01\x04\x00\x01\x00\x00\x00\x04\x00\x00\x00\x1c\x01\x03\x00\x01\x00"
        b"\x00\x00\x01\x00\x00\x00S\x01\x03\x00\x01\x00\x00\x00\x03\x00\x00\x00\xff\x00\x00\x00\xec\x0f#?"
    )
    path = tmp_path / "0.png"
    path.write_bytes(header)
    with pytest.raises(ImageError, match=r"0\.png: cannot decode") as caught:
        read_image(path)
    assert "\n" not in str(caught.value)
