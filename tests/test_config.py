"""The training configuration (sapnet.engine.train.config): one description gives the defaults and the
checks, the schedule is counted in optimiser steps, configs of the epoch-counted schedule are
refused with their conversion, and every committed config loads with the schedule it meant."""

import dataclasses
import inspect
from pathlib import Path

import pytest

from sapnet.cli import main
from sapnet.engine.train.config import DEFAULTS, SCHEMA, ConfigError, load_config, resolve
from sapnet.engine.train.trainer import learning_rate
from sapnet.losses import DEFAULT_CONFIG, LOSS_TERMS, resolve_config
from sapnet.losses.lpisl import LPIPSLoss
from sapnet.losses.segmentation import SegmentationLoss
from sapnet.losses.ssim import SSIMLoss
from sapnet.models.sapnet import SAPNetConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TRAIN = "data.train=pairs"  # the one setting without a default


def load(*overrides, path=None):
    return load_config(path, [TRAIN, *overrides])


def refusal(*overrides, path=None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, list(overrides) or [TRAIN])
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- one description ------------------------------------------------------------------------
def test_every_default_and_key_comes_from_the_one_description():
    sections = {name: member for name, member in SCHEMA.members.items() if name != "loss"}
    assert {name: [f.name for f in dataclasses.fields(member)] for name, member in sections.items()} == {
        name: list(DEFAULTS[name]) for name in sections
    }
    assert DEFAULTS["model"] == SAPNetConfig().to_dict()
    assert DEFAULTS["loss"] == DEFAULT_CONFIG == resolve_config(None)
    assert {name: list(values) for name, values in DEFAULTS["loss"].items()} == {
        name: [f.name for f in dataclasses.fields(term)] for name, term in LOSS_TERMS.items()
    }
    # a loss option's default is its class's own
    for cls, term, option in [(SSIMLoss, "ssim", "window_size"), (LPIPSLoss, "lpips", "size"), (SegmentationLoss, "segmentation", "encoder")]:
        assert DEFAULTS["loss"][term][option] == inspect.signature(cls).parameters[option].default
    assert {name: entry["weight"] for name, entry in DEFAULTS["loss"].items()} == {
        "ssim": 1.0, "contrastive": 0.1, "lpips": 0.1, "segmentation": 0.1, "l1": 0.0, "brightness": 0.0,
    }


def test_the_defaults_pass_their_own_checks_and_are_never_changed_by_a_load():
    assert resolve(SCHEMA, DEFAULTS, DEFAULTS) == DEFAULTS  # every default checked as if given
    config = load("data.presets=[storm]")
    config["optim"]["milestones"].append(1)
    assert DEFAULTS["data"]["presets"] == ["light", "heavy"] and DEFAULTS["optim"]["milestones"] == [4500, 7500, 12000]


def test_the_default_schedule_is_the_papers_recipe_in_steps():
    optim = load()["optim"]
    per_epoch = 1800 // optim["batch_size"]  # RainTrainH's pairs at the paper's batch of 12
    assert per_epoch == 150
    assert optim == {"lr": 1e-3, "batch_size": 12, "steps": 100 * per_epoch, "milestones": [30 * per_epoch, 50 * per_epoch, 80 * per_epoch],
                     "gamma": 0.2, "grad_clip": None, "ema": None}
    assert load()["run"]["val_every"] == per_epoch


def test_milestones_are_the_steps_after_which_the_lr_drops():
    optim = load("optim.lr=1.0", "optim.gamma=0.5", "optim.milestones=[3, 5]")["optim"]
    assert [learning_rate(optim, done) for done in range(7)] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert learning_rate(load("optim.milestones=[]")["optim"], 10**6) == 1e-3


# --- every key checked ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "override, message",
    [
        ("run2.seed=1", "run2: unknown section (known: data, loss, model, optim, run)"),
        ("optim.lr_max=1", "optim.lr_max: unknown key (known: batch_size, ema, gamma, grad_clip, lr, milestones, steps)"),
        ("model.depth=3", "model.depth: unknown key (known: attention, channels, dilation, reduction, stages)"),
        ("data.veil.prob=0.5", "data.veil.prob: unknown key (known: maximum, probability)"),
        ("run.seeds=1", "run.seeds: unknown key (known: amp, amp_cpu, checkpoint_every, device, fast, init_from, "
                        "log_every, max_nonfinite, out_dir, seed, snapshot_every, val_every)"),
        ("loss.edges=1", "loss.edges: unknown loss term (known: brightness, contrastive, l1, lpips, segmentation, ssim)"),
        ("loss.lpips.nett=vgg", "loss.lpips.nett: unknown key (known: linear, net, size, weight, weights)"),
        ("loss.contrastive.layers=3", "loss.contrastive.layers: unknown key (known: eps, kind, weight, weights)"),
        ("loss.segmentation.encodr=x", "loss.segmentation.encodr: unknown key (known: alpha, classes, encoder, gamma, init_std, seed, weight, weights)"),
        ("loss.l1.reduction=sum", "loss.l1.reduction: unknown key (known: weight)"),
    ],
)
def test_an_unknown_key_at_any_level_is_named_with_the_known_ones(override, message):
    assert refusal(TRAIN, override) == message


def test_a_file_names_itself_before_the_key(tmp_path):
    config = tmp_path / "typo.yaml"
    config.write_text("loss:\n  lpips: {nett: vgg}\n")
    assert refusal(path=config) == f"{config}: loss.lpips.nett: unknown key (known: linear, net, size, weight, weights)"
    config.write_text("optim: {lr: -1}\n")
    assert refusal(path=config) == f"{config}: optim.lr: must be a number > 0, got -1"
    config.write_text("- a list\n")
    assert refusal(path=config) == f"{config}: a config is a mapping of sections, got list"


@pytest.mark.parametrize(
    "override, message",
    [
        ("optim.batch_size=true", "optim.batch_size: must be an integer >= 1, got True"),
        ("optim.steps=2.5", "optim.steps: must be an integer >= 1, got 2.5"),
        ("optim.lr=.inf", "optim.lr: must be a number > 0, got inf"),
        ("optim.gamma=0", "optim.gamma: must be a number > 0, got 0"),
        ("optim.grad_clip=-1", "optim.grad_clip: must be a number > 0 or null, got -1"),
        ("optim.ema=1", "optim.ema: must be a number > 0 and < 1 or null, got 1"),
        ("optim.milestones=[0, 5]", "optim.milestones: must be a list of integers >= 1, got [0, 5]"),
        ("optim.milestones=[5, 5]", "optim.milestones: must increase, got [5, 5]"),
        ("model.dilation=1", "model.dilation: must be true or false, got 1"),
        ("model.attention=5", "model.attention: must be one of cra, se, ca, none, got 5"),
        ("data.synthetic=[]", "data.synthetic: must be a string or a non-empty list of strings or null, got []"),
        ("data.workers=-1", "data.workers: must be a non-negative integer, got -1"),
        ("data.dry=1", "data.dry: must be a number >= 0 and < 1, got 1"),
        ("data.scene_lines=1.5", "data.scene_lines: must be a number >= 0 and <= 1, got 1.5"),
        ("data.lit_edges=2", "data.lit_edges: must be a number >= 0 and <= 1, got 2"),
        ("data.scene_lines_presets=[hail]", "data.scene_lines_presets: unknown preset 'hail' (known: drizzle, light, heavy, storm, downpour, shower)"),
        ("data.scene_lines_presets=[]", "data.scene_lines_presets: must be a non-empty list of presets (drizzle, light, heavy, storm, downpour, shower) or null, got []"),
        ("data.veil={probability: 1.5}", "data.veil: veil probability must be in [0, 1] and maximum in [0, 1), got VeilPrior(probability=1.5, maximum=0.25)"),
        ("run.val_every=0", "run.val_every: must be an integer >= 1, got 0"),
        ("run.fast=yes", "run.fast: must be true or false, got 'yes'"),  # YAML 1.2: only true/false are booleans
        ("loss=0.5", "loss: must be a mapping of loss terms, got 0.5"),
        ("loss.lpips=-0.1", "loss.lpips.weight: must be a non-negative number, got -0.1"),
        ("loss.lpips.size=big", "loss.lpips.size: must be an integer >= 1 or null, got 'big'"),
        ("loss.segmentation.encoder=vgg", "loss.segmentation.encoder: unknown value 'vgg' (known: resnet101, mobilenet_v2)"),
        ("loss.ssim.sigma=0", "loss.ssim.sigma: must be a number > 0, got 0"),
        ("loss.contrastive.weight={x: 1}", "loss.contrastive.weight: must be a non-negative number, got {'x': 1}"),
        ("loss.brightness.min_share=2", "loss.brightness.min_share: must be a number >= 0 and <= 1, got 2"),
    ],
)
def test_a_wrong_type_or_range_is_one_line_naming_the_key(override, message):
    assert refusal(TRAIN, override) == message


def test_values_read_as_yaml_1_2_and_overrides_merge_in_order():
    config = load("optim.lr=2e-4", "run.amp=off", "loss.lpips=0", "loss.lpips.net=vgg", "data.veil={probability: 0.3}",
                  "data.veil.maximum=0.1", "optim.steps=10", "optim.steps=20")
    assert config["optim"]["lr"] == 2e-4 and config["run"]["amp"] == "off" and config["optim"]["steps"] == 20
    assert config["loss"]["lpips"] == {**DEFAULT_CONFIG["lpips"], "weight": 0, "net": "vgg"}
    assert config["data"]["veil"] == {"probability": 0.3, "maximum": 0.1}
    assert load("optim=null") == load()  # an empty section changes nothing
    assert refusal("optim.lr=1") == "data: set exactly one of data.train (paired folder) or data.synthetic (clean photos)"


# --- configs of the epoch-counted schedule -----------------------------------------------------
OLD_BUNDLED_V3 = """\
data:
  synthetic: [photos]
  epoch_length: 600   # 100 steps of 6
optim: {lr: 2.0e-4, batch_size: 6, epochs: 8, milestones: [4, 6], gamma: 0.2, grad_clip: 1.0}
run: {val_every: 1}
"""


def test_a_config_with_milestones_in_epochs_is_refused_with_its_conversion(tmp_path, capsys):
    old = tmp_path / "old.yaml"
    old.write_text(OLD_BUNDLED_V3)
    message = refusal(path=old)
    assert message == (
        f"{old}: optim.milestones: [4, 6] are counted in steps since optim.epochs was retired, and this config counts "
        "them in epochs (it sets optim.epochs); at 100 steps an epoch (data.epoch_length 600 // optim.batch_size 6) "
        "write optim.steps: 800, optim.milestones: [400, 600], run.val_every: 100"
    )
    # what it says to write is the committed bundled_v3 schedule
    bundled = load_config(CONFIGS / "bundled_v3.yaml")
    assert (bundled["optim"]["steps"], bundled["optim"]["milestones"], bundled["run"]["val_every"]) == (800, [400, 600], 100)
    assert main(["train", "--config", str(old)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {message}"]


def test_the_epoch_counted_settings_are_refused_wherever_they_come_from(tmp_path):
    paper = tmp_path / "paper.yaml"  # paired data: its steps an epoch are not known from the config
    paper.write_text("data: {train: data/RainTrainH}\noptim: {epochs: 100, milestones: [30, 50, 80]}\n")
    assert refusal(path=paper).endswith(
        "multiply optim.epochs (to write as optim.steps), each milestone and run.val_every by the steps in an epoch, "
        "training pairs // optim.batch_size (150 for RainTrainH's 1,800 pairs at batch 12)"
    )
    assert refusal(TRAIN, "optim.epochs=3").startswith("optim.epochs: retired when the schedule moved to optimiser steps; ")
    assert refusal(TRAIN, "optim.max_steps=3") == "optim.max_steps: retired when the schedule moved to optimiser steps; write optim.steps: 3"
    assert refusal("data.synthetic=photos", "data.epoch_length=48", "optim.epochs=2") == (
        "optim.epochs: retired when the schedule moved to optimiser steps; at 4 steps an epoch "
        "(data.epoch_length 48 // optim.batch_size 12) write optim.steps: 8"
    )


# --- the committed configs ---------------------------------------------------------------------
# (optim.steps, optim.milestones, run.val_every): the schedules they had in epochs, in steps
BUNDLED = {
    "bundled": (3200, [2000, 2400, 2800], 400),  # 8 epochs of 4800 // 12 = 400 steps, drops after epochs 5, 6, 7
    "bundled_v2": (600, [400, 500], 200),  # 6 epochs of 600 // 6 = 100, drops after 4 and 5, validated every 2
    "bundled_v3": (800, [400, 600], 100),  # 8 epochs of 100, drops after 4 and 6, validated every epoch
    "bundled_v4": (500, [300], 100),  # written in steps from the start
    "bundled_v5": (1800, [1200], 200),
    "bundled_v6": (1500, [1000], 500),
    "bundled_v7": (1500, [1000], 500),
    "bundled_v8": (1000, [750], 250),
    "bundled_v9": (1000, [750], 250),
    "bundled_v10": (300, [250], 150),
    "bundled_v11": (750, [500], 250),
    "bundled_v12": (400, [], 200),
    "bundled_v13": (300, [], 150),
    "bundled_v14": (500, [], 250),
    "bundled_v15": (500, [], 250),
    "bundled_v16": (500, [], 250),
    "bundled_v17": (500, [], 250),
    "bundled_v18": (500, [], 250),
    "bundled_v19": (500, [], 250),
    "bundled_v20": (500, [], 250),
    "bundled_v21": (500, [], 250),
    "bundled_v22": (500, [], 250),
    "bundled_v23": (500, [], 250),
    "bundled_v24": (500, [], 250),
    "bundled_v25": (500, [], 250),
    "bundled_stage2_veil": (3200, [1800, 2600, 3000], 400),  # 16 epochs of 2400 // 12 = 200, drops 9, 13, 15; every 2
    "paper": (15000, [4500, 7500, 12000], 150),  # 100 epochs of 1,800 // 12 = 150, drops 30, 50, 80
    "table3_pcl_data40": (6000, [1800, 3000, 4800], 60),  # 100 epochs of 720 // 12 = 60
    "table3_pcl_data60": (9000, [2700, 4500, 7200], 90),  # 100 epochs of 1,080 // 12 = 90
}


def test_every_committed_config_loads_with_the_schedule_it_had_in_epochs():
    loaded = {}
    for path in sorted(CONFIGS.rglob("*.yaml")):
        config = load_config(path, ["data.synthetic=null", TRAIN] if "synthetic" in path.read_text() else [TRAIN])
        loaded[path.stem] = config
        schedule = (config["optim"]["steps"], config["optim"]["milestones"], config["run"]["val_every"])
        assert schedule == BUNDLED.get(path.stem, BUNDLED["paper"]), path  # the ablations: the paper's recipe
    assert set(BUNDLED) <= set(loaded)
    assert [loaded[f"table2_{k}"]["model"]["attention"] for k in ("cra", "se", "ca", "conv")] == ["cra", "se", "ca", "none"]
    assert [loaded[f"table3_{k}"]["loss"]["contrastive"]["kind"] for k in ("no_cl", "l1_cl", "pcl")] == ["none", "l1", "pcl"]
    assert [loaded[f"table3_pcl_data{k}"]["data"]["subset"] for k in (40, 60)] == [0.4, 0.6]
    built = [
        {name for name, term in loaded[f"table4_{m}"]["loss"].items() if term["weight"] > 0 and term.get("kind") != "none"}
        for m in ("m1", "m2", "m3", "m4", "m5", "full")
    ]
    assert built == [{"ssim"}] * 3 + [{"ssim", "segmentation"}, {"ssim", "segmentation", "contrastive"}, {"ssim", "segmentation", "contrastive", "lpips"}]
    assert loaded["bundled_v3"]["loss"]["l1"]["weight"] == 1.0 and loaded["bundled_v3"]["optim"]["batch_size"] == 6
