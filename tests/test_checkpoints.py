import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sapnet.hub import OFFICIAL, WeightsError, load_network, sha256_of
from sapnet.models import CheckpointError, load_checkpoint, save_checkpoint
from sapnet.models.checkpoints import read_metadata
from tests.conftest import shared_file, tiny_model


def test_official_checkpoint_reproduces_the_golden_outputs():
    model = load_checkpoint(shared_file("weights/sapnet_official_model11.pth"))
    golden = np.load(shared_file("golden/sapnet_official_golden.npz"))
    assert model.config.attention == "cra" and model.config.dilation and model.config.stages == 6
    for case in ("crop64", "odd37x53", "batch2"):
        with torch.no_grad():
            final, stages = model(torch.from_numpy(golden[f"{case}_input"]), return_stages=True)
        assert np.abs(final.numpy() - golden[f"{case}_output"]).max() < 1e-4, case
        assert np.abs(torch.stack(stages).numpy() - golden[f"{case}_stages"]).max() < 1e-4, case


def _prenet_reference_state(channels=8, seed=0):
    """A state_dict in PReNet's published layout (conv0, res_convK.{0,2}, conv_{i,f,g,o}, conv)."""
    g = torch.Generator().manual_seed(seed)

    def conv(out_ch, in_ch):
        return torch.randn(out_ch, in_ch, 3, 3, generator=g) * 0.1, torch.randn(out_ch, generator=g) * 0.1

    state = {}
    for name, (o, i) in {"conv0.0": (channels, 6), "conv.0": (3, channels)}.items():
        state[f"{name}.weight"], state[f"{name}.bias"] = conv(o, i)
    for gate in "ifgo":
        state[f"conv_{gate}.0.weight"], state[f"conv_{gate}.0.bias"] = conv(channels, 2 * channels)
    for k in range(1, 6):
        for index in (0, 2):
            state[f"res_conv{k}.{index}.weight"], state[f"res_conv{k}.{index}.bias"] = conv(channels, channels)
    return state


def _prenet_reference_forward(state, rainy, stages):
    """PReNet's forward written directly from its paper, on the reference layout."""

    def conv(x, name):
        return F.conv2d(x, state[f"{name}.weight"], state[f"{name}.bias"], padding=1)

    channels = state["conv0.0.weight"].shape[0]
    h = c = torch.zeros(rainy.shape[0], channels, *rainy.shape[2:])
    x = rainy
    for _ in range(stages):
        x = torch.relu(conv(torch.cat((rainy, x), 1), "conv0.0"))
        xh = torch.cat((x, h), 1)
        i, f = torch.sigmoid(conv(xh, "conv_i.0")), torch.sigmoid(conv(xh, "conv_f.0"))
        g, o = torch.tanh(conv(xh, "conv_g.0")), torch.sigmoid(conv(xh, "conv_o.0"))
        c = f * c + i * g
        h = o * torch.tanh(c)
        x = h
        for k in range(1, 6):
            out = torch.relu(conv(torch.relu(conv(x, f"res_conv{k}.0")), f"res_conv{k}.2"))
            x = torch.relu(out + x)
        x = conv(x, "conv.0") + rainy
    return x


def test_prenet_checkpoint_loads_and_matches_prenet(tmp_path):
    state = _prenet_reference_state()
    path = tmp_path / "PReNet6.pth"
    torch.save({f"module.{k}": v for k, v in state.items()}, path)
    model = load_checkpoint(path, stages=3)
    assert model.config.attention == "none" and not model.config.dilation
    rainy = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        assert torch.allclose(model(rainy), _prenet_reference_forward(state, rainy, 3), atol=1e-5)


@pytest.mark.parametrize("options", [{}, {"attention": "se"}, {"attention": "ca", "dilation": False}, {"attention": "none"}])
def test_project_format_round_trip_rebuilds_the_architecture(tmp_path, options):
    model = tiny_model(**options)
    path = save_checkpoint(model, tmp_path / "m.safetensors", metadata={"note": "test"})
    loaded = load_checkpoint(path)
    assert loaded.config == model.config
    assert read_metadata(path)["note"] == "test"
    x = torch.rand(1, 3, 17, 19)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert list(tmp_path.iterdir()) == [path]  # the atomic write left no temporary file


def test_training_checkpoint_is_loadable(tmp_path):
    model = tiny_model()
    path = tmp_path / "last.pt"
    torch.save({"model": model.state_dict(), "model_config": model.config.to_dict(), "step": 3}, path)
    assert load_checkpoint(path).config == model.config


def test_bad_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"definitely not weights")
    with pytest.raises(CheckpointError, match="junk.pth"):
        load_checkpoint(junk)
    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(CheckpointError, match="unknown checkpoint layout"):
        load_checkpoint(other)
    wrong = tmp_path / "wrong.safetensors"
    save_checkpoint(tiny_model(channels=8), wrong)
    state = load_checkpoint(wrong).state_dict()
    state.pop("decoder.bias")
    torch.save({"model": state, "model_config": tiny_model().config.to_dict()}, tmp_path / "broken.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(tmp_path / "broken.pt")


def test_official_weights_are_found_in_the_hub_cache_and_checked(tmp_path, monkeypatch):
    source = shared_file("weights/sapnet_official_model11.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = OFFICIAL.path
    cached.parent.mkdir(parents=True)
    cached.write_bytes(source.read_bytes())
    assert sha256_of(cached) == OFFICIAL.sha256
    assert load_network("official").config.attention == "cra"
    cached.write_bytes(source.read_bytes()[:-10])
    with pytest.raises(WeightsError, match="does not match"):
        load_network("official")


def test_official_weights_offline_error_names_the_url_and_the_place(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(url, dst, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsError) as error:
        load_network("official")
    message = str(error.value)
    assert OFFICIAL.url in message and str(OFFICIAL.path) in message and OFFICIAL.sha256 in message


def test_unknown_weights_name(tmp_path):
    with pytest.raises(WeightsError, match="neither a weights name"):
        load_network(str(tmp_path / "nope"))


def test_reference_layout_gives_the_same_outputs():
    from sapnet.models.reference import reference_layout

    model = tiny_model()
    reference = reference_layout(model)
    rainy = torch.rand(1, 3, 24, 20)
    with torch.no_grad():
        assert torch.allclose(reference(rainy), model(rainy), atol=1e-6)
    assert not any("gates" in key for key in reference.state_dict())


def test_reference_layout_splits_the_official_gates_back():
    from sapnet.models.reference import reference_layout

    official = torch.load(shared_file("weights/sapnet_official_model11.pth"), map_location="cpu", weights_only=True)
    split = reference_layout(load_checkpoint(shared_file("weights/sapnet_official_model11.pth"))).lstm
    for gate in "ifgo":
        assert torch.equal(getattr(split, f"conv_{gate}")[0].weight, official[f"module.conv_{gate}.0.weight"])
