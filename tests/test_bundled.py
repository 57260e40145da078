"""The bundled model: found by name, intact, the default, and it derains."""

import numpy as np
import torch
from PIL import Image

import sapnet
from sapnet.cli import main
from sapnet.data.rain import synthesize_rain
from sapnet.hub import BUNDLED, DEFAULT_WEIGHTS, sha256_of


def test_every_bundled_file_matches_its_recorded_checksum():
    assert BUNDLED, "no bundled model"
    for entry in BUNDLED.values():
        assert entry.path.stat().st_size < 1_000_000
        assert sha256_of(entry.path) == entry.sha256, entry.name
        assert {"recipe", "metrics", "reproduce"} <= set(entry.meta)


def test_the_default_model_loads_by_name_and_derains_a_small_image():
    model = sapnet.load_model(DEFAULT_WEIGHTS)
    assert model.config.stages == 6 and model.config.attention == "cra"
    y, x = np.mgrid[0:96, 0:96] / 96.0
    clean = np.stack([0.3 + 0.4 * x, 0.5 - 0.3 * y, 0.4 + 0.2 * np.sin(6 * x * y)], axis=2).astype(np.float32)
    rainy = synthesize_rain(clean, "light", np.random.default_rng(0))
    derained = sapnet.derain(rainy, model)
    assert derained.shape == rainy.shape
    # it removes most of the rain: the error to the clean image falls by more than half
    assert np.abs(derained - clean).mean() < 0.5 * np.abs(rainy - clean).mean()


def test_derain_runs_without_weights_flag(tmp_path):
    Image.fromarray((np.random.default_rng(1).random((20, 30, 3)) * 255).astype(np.uint8)).save(tmp_path / "a.png")
    assert main(["derain", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    assert Image.open(tmp_path / "out" / "a.png").size == (30, 20)
    assert torch.is_tensor(sapnet.derain(torch.rand(3, 8, 8)))


def test_the_v3_config_trains_on_every_preset_and_keeps_the_benchmarks_out(tmp_path):
    from pathlib import Path

    from sapnet.data.rain import PRESETS
    from sapnet.engine.config import load_config
    from sapnet.engine.train import build_dataset

    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "bundled_v3.yaml")
    data = config["data"]
    assert set(data["presets"]) == set(PRESETS)
    assert [Path(folder).name for folder in data["synthetic"]] == ["clean_bsds", "clean_urban100", "clean_sunhays80"]
    assert [Path(folder).name for folder in data["val"]] == ["rain100l", "raincityscapes100"]
    assert Path(config["run"]["init_from"]).name == "sapnet_official_model11.pth"
    Image.fromarray(np.zeros((40, 40, 3), dtype=np.uint8)).save(tmp_path / "black.png")
    small = load_config(Path(__file__).resolve().parents[1] / "configs" / "bundled_v3.yaml", [f"data.synthetic=[{tmp_path}]", "data.crop=24"])
    rainy, clean = build_dataset(small["data"], seed=0)[5]
    assert rainy.shape == clean.shape == (3, 24, 24) and rainy.max() > 0
