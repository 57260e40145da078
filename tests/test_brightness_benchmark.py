"""benchmarks/brightness.py reports the offsets it is given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .conftest import benchmark_script

brightness = benchmark_script("brightness")


def _save(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 10, 3), value, dtype=np.uint8)).save(path)


def test_report_offsets_are_per_image_means_in_levels(tmp_path, capsys):
    data, report = tmp_path / "set", tmp_path / "report"
    for name, clean, out in (("a", 100, 97), ("b", 50, 51)):
        _save(data / "clean" / f"{name}.png", clean)
        _save(report / "derained" / "m" / "set" / f"{name}.png", out)
    assert brightness.report_offsets(report / "derained" / "m" / "set", data / "clean").tolist() == [-3.0, 1.0]
    assert brightness.main(["--report", str(report), "--data", str(data)]) == 0
    assert "m on set (2 images): mean offset -1.00 levels" in capsys.readouterr().out


def test_a_report_without_the_data_set_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "report" / "derained" / "m").mkdir(parents=True)
    assert brightness.main(["--report", str(tmp_path / "report"), "--data", str(tmp_path / "rain100l")]) == 2
    assert "no derained images of rain100l in the report" in capsys.readouterr().err


def _identity_weights(folder: Path) -> str:
    """A tiny network with every weight zero: each stage's output is its rainy input plus nothing."""
    import torch

    from sapnet.models import save_checkpoint

    from .conftest import tiny_model

    model = tiny_model()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    return str(save_checkpoint(model, folder / "identity.safetensors"))


def test_a_network_that_adds_nothing_leaves_the_dry_gradient_as_it_is(tmp_path):
    rained, dry = brightness.gradient_offsets(_identity_weights(tmp_path))
    assert abs(dry) < 0.01 and rained > 0.5  # light rain only adds light, which the identity keeps


def test_dry_offsets_of_the_identity_are_zero_and_every_nth_photo_is_taken(tmp_path, capsys):
    weights = _identity_weights(tmp_path)
    for index, value in enumerate((20, 120, 200)):
        _save(tmp_path / "dry" / f"{index}.png", value)
    assert np.abs(brightness.dry_offsets(weights, tmp_path / "dry")).max() < 0.01
    assert len(brightness.dry_offsets(weights, tmp_path / "dry", every=2)) == 2
    assert brightness.main([weights, "--dry", str(tmp_path / "dry")]) == 0
    assert "(3 photos): mean offset +0.00 levels" in capsys.readouterr().out
