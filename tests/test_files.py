"""The one atomic writer: outputs get the mode the umask allows, an existing file is replaced or
kept as asked, and a failed write leaves neither a partial file nor a temporary one."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from sapnet.files import atomic_write
from sapnet.images import write_image
from sapnet.models import save_checkpoint

from .conftest import tiny_model


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield 0o644
    os.umask(previous)


def _mode(path) -> int:
    return path.stat().st_mode & 0o777


def test_images_and_checkpoints_get_the_umask_mode(tmp_path, umask_022):
    image = tmp_path / "a.png"
    write_image(Image.fromarray(np.zeros((4, 4, 3), np.uint8)), image)
    checkpoint = save_checkpoint(tiny_model(), tmp_path / "m.safetensors")
    assert _mode(image) == _mode(checkpoint) == umask_022
    os.umask(0o077)
    write_image(Image.fromarray(np.zeros((4, 4, 3), np.uint8)), tmp_path / "b.png")
    assert _mode(tmp_path / "b.png") == 0o600


def test_replace_keep_and_failure(tmp_path, umask_022):
    target = tmp_path / "x.txt"
    with atomic_write(target) as tmp:
        open(tmp, "w").write("one")
    with atomic_write(target) as tmp:
        open(tmp, "w").write("two")
    assert target.read_text() == "two"
    with pytest.raises(FileExistsError), atomic_write(target, overwrite=False) as tmp:
        open(tmp, "w").write("three")
    assert target.read_text() == "two"
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        open(tmp, "w").write("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "two" and sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]
