"""The fast CPU engine equals the eager model (every configuration, odd sizes, batches, worker
counts, band sizes), inside derain_tensor too, and picks backends as documented."""

import numpy as np
import pytest
import torch

from sapnet.engine.train.compile import prepare_for_training
from sapnet.engine.infer.backends import build_backend, resolve_backend
from sapnet.engine.infer.backends.eager import EagerBackend
from sapnet.engine.infer.backends.fast import FastSAPNet, fast_support
from sapnet.engine.infer.tiling import DEFAULT_MAX_PIXELS, FAST_MAX_PIXELS, default_max_pixels, derain_tensor
from sapnet.models import load_checkpoint
from tests.conftest import shared_file, tiny_model

TOLERANCE = 1e-4
CONFIGS = [(attention, dilation) for attention in ("cra", "se", "ca", "none") for dilation in (True, False)]


def _eager(model, rainy):
    with torch.inference_mode():
        return model(rainy)


@pytest.mark.parametrize("attention,dilation", CONFIGS)
def test_fast_engine_equals_eager_for_every_configuration(attention, dilation):
    model = tiny_model(attention=attention, dilation=dilation)
    generator = torch.Generator().manual_seed(1)
    # 4-row bands and two workers: halos (up to 16 rows) cross bands, chunk borders and the image
    # edges; a batch; an image smaller than the dilations
    for shape, workers, band_rows in (((1, 3, 37, 53), 2, 4), ((2, 3, 40, 33), 1, 64), ((1, 3, 5, 7), 2, 2)):
        rainy = torch.rand(shape, generator=generator)
        expected = _eager(model, rainy)
        pixels = band_rows * shape[3]
        got = FastSAPNet(model, workers=workers, band_pixels=pixels, lstm_band_pixels=pixels)(rainy)
        assert got.shape == expected.shape
        assert (got - expected).abs().max().item() <= TOLERANCE, (shape, workers, band_rows)


def test_fast_engine_reuses_buffers_across_sizes_and_calls():
    model = tiny_model(channels=4, reduction=2)
    engine = FastSAPNet(model, workers=2, band_pixels=160, lstm_band_pixels=80)
    for shape in ((1, 3, 30, 20), (1, 3, 30, 20), (1, 3, 17, 41), (3, 3, 9, 9)):
        rainy = torch.rand(shape)
        first = engine(rainy)
        assert (first - _eager(model, rainy)).abs().max().item() <= TOLERANCE
        assert torch.equal(engine(rainy), first)  # the kept maps are cleared by every call
    engine.release()
    assert engine(torch.rand(1, 3, 8, 8)).shape == (1, 3, 8, 8)


def test_fast_engine_matches_the_official_golden_outputs():
    golden = np.load(shared_file("golden/sapnet_official_golden.npz"))
    engine = FastSAPNet(load_checkpoint(shared_file("weights/sapnet_official_model11.pth")))
    for name in ("crop64", "odd37x53", "batch2"):
        got = engine(torch.from_numpy(golden[f"{name}_input"])).numpy()
        difference = np.abs(got - golden[f"{name}_output"]).max()
        assert difference <= TOLERANCE, (name, difference)


def test_derain_tensor_with_the_fast_engine_equals_eager_untiled_and_tiled():
    model = tiny_model(stages=2)
    engine = build_backend(model, "auto")
    assert isinstance(engine, FastSAPNet) and default_max_pixels(engine) == FAST_MAX_PIXELS
    assert default_max_pixels(model) == DEFAULT_MAX_PIXELS
    rainy = torch.rand(1, 3, 70, 90)
    for max_pixels in (None, 40 * 40):
        expected = derain_tensor(model, rainy, max_pixels=max_pixels or DEFAULT_MAX_PIXELS, tile=48, overlap=8)
        got = derain_tensor(engine, rainy, max_pixels=max_pixels, tile=48, overlap=8)
        assert (got - expected).abs().max().item() <= TOLERANCE


def test_backend_choice_and_what_the_fast_engine_refuses():
    model = tiny_model()
    assert resolve_backend(model, "auto") == "fast"
    eager = build_backend(model, "eager")
    assert isinstance(eager, EagerBackend) and eager.network is model and default_max_pixels(eager) == DEFAULT_MAX_PIXELS
    assert fast_support(model.double()) is not None and resolve_backend(model, "auto") == "eager"
    assert "not a SAPNet" in fast_support(torch.nn.Conv2d(3, 3, 3))
    with pytest.raises(ValueError, match="backend"):
        resolve_backend(model, "tensorrt")
    with pytest.raises(ValueError, match="cannot run"):
        FastSAPNet(model)


def test_the_fast_engine_applies_each_attention_block_s_own_gate(monkeypatch):
    """The engine calls the blocks' gate(): a changed gate changes its output as it changes the model's."""
    from sapnet.models.attention import ChannelResidualAttention

    model = tiny_model()
    rainy = torch.rand(1, 3, 24, 20)
    original = ChannelResidualAttention.gate
    monkeypatch.setattr(ChannelResidualAttention, "gate", lambda self, pooled: original(self, pooled) * 0.5)
    assert (FastSAPNet(model)(rainy) - _eager(model, rainy)).abs().max().item() <= TOLERANCE
    monkeypatch.setattr(ChannelResidualAttention, "gate", original)
    assert (FastSAPNet(model)(rainy) - _eager(model, rainy)).abs().max().item() <= TOLERANCE


def test_prepare_for_training_keeps_the_parameters_and_falls_back(monkeypatch):
    model = tiny_model().train()
    rainy = torch.rand(2, 3, 16, 16)
    prepared = prepare_for_training(model, compile=False)
    assert prepared is model

    def broken_compile(module, *args, **kwargs):  # what a machine without a C++ compiler gives
        def fail(*args, **kwargs):
            raise RuntimeError("InductorError: no working C++ compiler found")
        return fail

    monkeypatch.setattr(torch, "compile", broken_compile)
    prepared = prepare_for_training(model)
    assert {id(p) for p in prepared.parameters()} == {id(p) for p in model.parameters()}
    with pytest.warns(UserWarning, match="training without it"):
        out = prepared(rainy)
    assert torch.equal(out, model(rainy))
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert torch.equal(prepared(rainy), model(rainy))  # no second try, no second warning
