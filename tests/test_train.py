"""The trainer on tiny runs: the loss falls, resume is exact, two gloo processes equal one."""

import csv
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sapnet.cli import main
from sapnet.engine.train.config import ConfigError, load_config
from sapnet.engine.train.trainer import CHECKPOINT, Trainer, TrainingError, build_dataset, epoch_batches
from sapnet.models import load_checkpoint


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> Path:
    """Eight 40×40 rainy/clean pairs: smooth images plus bright vertical streaks."""
    root = tmp_path_factory.mktemp("pairs")
    (root / "rainy").mkdir()
    (root / "clean").mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        base = np.kron(rng.random((5, 5, 3)), np.ones((8, 8, 1))) * 0.7
        streaks = (rng.random((40, 40, 1)) > 0.97) * np.ones((1, 1, 3)) * 0.3
        streaks = np.maximum(streaks, np.roll(streaks, 1, axis=0))
        Image.fromarray((base * 255).astype(np.uint8)).save(root / "clean" / f"{i}.png")
        Image.fromarray((np.clip(base + streaks, 0, 1) * 255).astype(np.uint8)).save(root / "rainy" / f"{i}.png")
    return root


def tiny_config(pairs, out_dir, *extra):
    return load_config(None, [
        f"data.train={pairs}", f"data.val={pairs}", "data.val_limit=2", "data.crop=32", "data.workers=0",
        "model.stages=2", "model.channels=8", "model.reduction=4",
        "loss.contrastive.weight=0", "loss.lpips.weight=0", "loss.segmentation.weight=0",
        "optim.batch_size=4", "optim.steps=6", "optim.milestones=[4]",  # 3 epochs of 2 steps, the drop after the 2nd
        f"run.out_dir={out_dir}", "run.device=cpu", "run.amp_cpu=off", "run.checkpoint_every=2", "run.log_every=1",
        "run.val_every=2", "run.fast=false",
        *extra,
    ])


def test_batches_split_each_global_batch_across_ranks():
    single = epoch_batches(10, 4, seed=1, epoch=2)
    ranks = [epoch_batches(10, 4, seed=1, epoch=2, rank=r, world=2) for r in range(2)]
    assert len(single) == 2 and all(len(b) == 4 for b in single)
    for k, batch in enumerate(single):
        assert sorted(ranks[0][k] + ranks[1][k]) == sorted(batch)
    assert epoch_batches(10, 4, 1, 3) != single


def test_tiny_run_lowers_the_loss_on_a_fixed_batch(pairs, tmp_path):
    trainer = Trainer(tiny_config(pairs, tmp_path / "run", "optim.steps=60", "optim.milestones=[]", "optim.lr=2e-3"))
    rainy, clean = (torch.stack(t) for t in zip(*(trainer.dataset[i] for i in range(4))))

    def fixed_loss():
        with torch.no_grad():
            return trainer.loss(trainer.model(rainy), clean, rainy)[0].item()

    before = fixed_loss()
    trainer.train()
    after = fixed_loss()
    assert after < before - 0.01, (before, after)
    rows = list(csv.DictReader(open(tmp_path / "run" / "train.csv")))
    assert len(rows) == 60 and {"ssim", "total", "lr"} <= set(rows[0])
    assert len(list(csv.DictReader(open(tmp_path / "run" / "val.csv")))) == 30
    assert load_checkpoint(tmp_path / "run" / "model.safetensors").config.stages == 2


def test_resumed_run_gives_the_same_weights(pairs, tmp_path):
    whole = Trainer(tiny_config(pairs, tmp_path / "whole"))
    whole.train()  # 3 epochs of 2 steps, with an LR drop after step 4

    Trainer(tiny_config(pairs, tmp_path / "parts", "optim.steps=3")).train()  # stops mid-epoch
    with pytest.raises(TrainingError, match="--resume"):
        Trainer(tiny_config(pairs, tmp_path / "parts"))
    resumed = Trainer(tiny_config(pairs, tmp_path / "parts"), resume=True)
    assert resumed.step == 3 and resumed.batch_in_epoch == 1
    resumed.train()
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert resumed.optimizer.param_groups[0]["lr"] == whole.optimizer.param_groups[0]["lr"] == pytest.approx(2e-4)


def test_ema_keeps_the_moving_average_of_the_weights_and_resumes_exactly(pairs, tmp_path):
    decay = 0.6
    weights = []
    for steps in (1, 2, 3):  # one step a run, resumed each time, to see the trained weights of every step
        trainer = Trainer(tiny_config(pairs, tmp_path / "parts", f"optim.ema={decay}", f"optim.steps={steps}"), resume=steps > 1)
        trainer.train()
        weights.append({key: value.clone() for key, value in trainer.model.state_dict().items()})
    expected = weights[0]
    for trained in weights[1:]:
        expected = {key: decay * expected[key] + (1 - decay) * trained[key] for key in trained}
    whole = Trainer(tiny_config(pairs, tmp_path / "whole", f"optim.ema={decay}", "optim.steps=3", "run.snapshot_every=3"))
    whole.train()
    kept = load_checkpoint(tmp_path / "parts" / "model.safetensors").state_dict()
    kept_whole = load_checkpoint(tmp_path / "whole" / "model.safetensors").state_dict()
    snapshot = load_checkpoint(tmp_path / "whole" / "snapshots" / "step_3.safetensors").state_dict()
    for key, value in expected.items():
        assert torch.allclose(kept[key], value, atol=1e-6), key
        assert torch.equal(kept[key], kept_whole[key]) and torch.equal(snapshot[key], kept_whole[key]), key
    assert not torch.allclose(kept["decoder.weight"], weights[-1]["decoder.weight"])  # the average, not the last step's
    with pytest.raises(TrainingError, match="optim.ema=null"):  # a run without the average cannot grow one midway
        Trainer(tiny_config(pairs, tmp_path / "plain", "optim.steps=1")).train()
        Trainer(tiny_config(pairs, tmp_path / "plain", "optim.ema=0.9"), resume=True)


def test_the_lr_drops_after_each_milestone_step_and_resume_keeps_it(pairs, tmp_path):
    schedule = ("optim.milestones=[3, 5]", "optim.gamma=0.5")
    Trainer(tiny_config(pairs, tmp_path / "run", *schedule, "optim.steps=4")).train()  # stops after the first drop
    Trainer(tiny_config(pairs, tmp_path / "run", *schedule), resume=True).train()
    rows = _rows(tmp_path / "run" / "train.csv")
    assert [int(row["step"]) for row in rows] == [1, 2, 3, 4, 5, 6]
    assert [float(row["lr"]) for row in rows] == pytest.approx([1e-3] * 3 + [5e-4] * 2 + [2.5e-4])


def test_a_checkpoint_of_the_epoch_counted_schedule_resumes_on_the_steps(pairs, tmp_path):
    # What the trainer wrote while the LR came from a MultiStepLR stepped once an epoch: a
    # "scheduler" entry and the optimiser's LR of that time; the step decides the LR now.
    whole = Trainer(tiny_config(pairs, tmp_path / "whole"))
    whole.train()
    Trainer(tiny_config(pairs, tmp_path / "old", "optim.steps=5")).train()  # past the drop at step 4
    state = torch.load(tmp_path / "old" / CHECKPOINT, weights_only=True)
    state["scheduler"] = {"milestones": Counter({2: 1}), "gamma": 0.2, "base_lrs": [1e-3], "last_epoch": 2, "_last_lr": [2e-4]}
    for group in state["optimizer"]["param_groups"]:
        group.update(lr=1e-3, initial_lr=1e-3)  # as if the drop had not happened
    torch.save(state, tmp_path / "old" / CHECKPOINT)
    resumed = Trainer(tiny_config(pairs, tmp_path / "old"), resume=True)
    assert (resumed.step, resumed.epoch, resumed.batch_in_epoch) == (5, 2, 1)
    resumed.train()
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert _rows(tmp_path / "old" / "train.csv")[-1]["lr"] == _rows(tmp_path / "whole" / "train.csv")[-1]["lr"]


def test_non_finite_losses_are_skipped_then_stop_the_run(pairs, tmp_path, monkeypatch):
    trainer = Trainer(tiny_config(pairs, tmp_path / "nan", "run.max_nonfinite=3"))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    original = trainer.loss.forward
    monkeypatch.setattr(trainer.loss, "forward", lambda d, c, r: (original(d, c, r)[0] * float("nan"), {"total": float("nan")}))
    with pytest.raises(TrainingError, match="non-finite for 3 steps"):
        trainer.train()
    assert trainer.nonfinite == 3
    assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())


def test_two_gloo_processes_match_one_process(pairs, tmp_path):
    Trainer(tiny_config(pairs, tmp_path / "one", "data.val=null")).train()
    overrides = [a for a in _tiny_overrides(pairs, tmp_path / "two")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
         "-m", "sapnet.cli", "train", *overrides],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    one = load_checkpoint(tmp_path / "one" / "model.safetensors").state_dict()
    two = load_checkpoint(tmp_path / "two" / "model.safetensors").state_dict()
    for key in one:
        assert torch.allclose(one[key], two[key], atol=1e-5), key


def test_init_from_starts_a_fresh_run_from_given_weights(pairs, tmp_path):
    first = Trainer(tiny_config(pairs, tmp_path / "first", "optim.steps=2"))
    weights = first.train()
    tuned = Trainer(tiny_config(pairs, tmp_path / "tuned", f"run.init_from={weights}"))
    assert tuned.step == 0 and tuned.optimizer.param_groups[0]["lr"] == 1e-3
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, tuned.model.state_dict()[key]), key
    with pytest.raises(TrainingError, match="differs from the config"):
        Trainer(tiny_config(pairs, tmp_path / "other", f"run.init_from={weights}", "model.channels=16"))
    with pytest.raises(TrainingError, match="--resume"):  # a fine-tuning run does not overwrite another run
        Trainer(tiny_config(pairs, tmp_path / "first", f"run.init_from={weights}"))
    with pytest.raises(TrainingError, match="run.init_from: no-such-weights"):
        Trainer(tiny_config(pairs, tmp_path / "missing", "run.init_from=no-such-weights"))


def test_bf16_autocast_on_the_cpu_trains(pairs, tmp_path):
    trainer = Trainer(tiny_config(pairs, tmp_path / "bf16", "run.amp_cpu=bf16", "optim.steps=3"))
    before = trainer.model.decoder.weight.detach().clone()
    trainer.train()
    rows = list(csv.DictReader(open(tmp_path / "bf16" / "train.csv")))
    assert len(rows) == 3 and all(np.isfinite(float(row["total"])) for row in rows)
    assert not torch.equal(before, trainer.model.decoder.weight) and trainer.model.decoder.weight.dtype == torch.float32
    with pytest.raises(ConfigError, match=r"run.amp_cpu: unknown value 'fp16' \(known: bf16, off, auto\)"):
        tiny_config(pairs, tmp_path / "fp16", "run.amp_cpu=fp16")


@pytest.mark.parametrize("amx", [True, False])
def test_cpu_training_uses_bf16_where_the_cpu_has_amx(pairs, tmp_path, monkeypatch, amx):
    monkeypatch.setattr("sapnet.engine.train.trainer.cpu_has_amx", lambda: amx)
    trainer = Trainer(tiny_config(pairs, tmp_path / "auto", "run.amp_cpu=auto"))
    assert trainer.amp == ("bf16" if amx else "off")


def test_sigterm_checkpoints_a_background_run(pairs, tmp_path):
    out = tmp_path / "killed"
    overrides = [o for o in _tiny_overrides(pairs, out) if not o.startswith("optim.steps")]
    process = subprocess.Popen(
        [sys.executable, "-m", "sapnet.cli", "train", *overrides, "optim.steps=2000", "run.checkpoint_every=100000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    log = out / "train.csv"
    for _ in range(600):
        if log.exists() and len(log.read_text().splitlines()) > 3:
            break
        time.sleep(0.1)
    process.terminate()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr[-2000:]
    state = torch.load(out / "last.pt", weights_only=True)
    assert 3 <= state["step"] < 2000
    resumed = Trainer(load_config(None, [*overrides, "optim.steps=2000"]), resume=True)
    assert resumed.step == state["step"]


def _tiny_overrides(pairs, out_dir):
    return [
        f"data.train={pairs}", "data.val=null", "data.crop=32", "data.workers=0",
        "model.stages=2", "model.channels=8", "model.reduction=4",
        "loss.contrastive.weight=0", "loss.lpips.weight=0", "loss.segmentation.weight=0",
        "optim.batch_size=4", "optim.steps=6", "optim.milestones=[4]",
        f"run.out_dir={out_dir}", "run.device=cpu", "run.amp_cpu=off", "run.checkpoint_every=2", "run.log_every=1",
        "run.val_every=2", "run.fast=false",
    ]


def test_config_veil_reaches_the_synthetic_dataset(pairs, tmp_path):
    clean_only = pairs / "clean"
    config = load_config(None, [f"data.synthetic={clean_only}", "data.veil={probability: 0.3, maximum: 0.1}", "data.crop=32"])
    dataset = build_dataset(config["data"], seed=0).dataset
    assert dataset.veil.probability == 0.3 and dataset.veil.maximum == 0.1
    assert build_dataset(load_config(None, [f"data.synthetic={clean_only}"])["data"], seed=0).dataset.veil is None
    for bad, message in [("{prob: 0.5}", r"data.veil.prob: unknown key \(known: maximum, probability\)"),
                         ("0.5", "data.veil: must be a mapping of probability, maximum or null, got 0.5"),
                         ("{probability: 2}", r"data.veil: veil probability must be in \[0, 1\]")]:
        with pytest.raises(ConfigError, match=message):
            load_config(None, [f"data.synthetic={clean_only}", f"data.veil={bad}"])


# --- hostile inputs (issue 14): one line naming the key or file, exit 2, nothing lost ----------


def _train_cli(capsys, *argv):
    """``sapnet train ARGV`` in this process: (exit code, stderr lines)."""
    code = main(["train", *map(str, argv)])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(
    "override, message",
    [
        ("optim.lr=fast", "optim.lr: must be a number > 0, got 'fast'"),
        ("optim.lr=-1e-3", "optim.lr: must be a number > 0"),
        ("optim.batch_size=two", "optim.batch_size: must be an integer >= 1, got 'two'"),
        ("optim.milestones=5", "optim.milestones: must be a list of integers >= 1, got 5"),
        ("optim.milestones=[2, x]", "optim.milestones: must be a list of integers >= 1"),
        ("optim.milestones=[4, 2]", "optim.milestones: must increase, got [4, 2]"),
        ("optim.steps=0", "optim.steps: must be an integer >= 1, got 0"),
        ("optim.epochs=3", "optim.epochs: retired when the schedule moved to optimiser steps; multiply optim.epochs"),
        ("optim.max_steps=3", "optim.max_steps: retired when the schedule moved to optimiser steps; write optim.steps: 3"),
        ("optim.milestones=[1,", "optim.milestones: cannot parse '[1,'"),
        ("optim=5", "optim: must be a mapping of settings, got 5"),
        ("model.stages=0", "model.stages: must be an integer >= 1 and <= 32, got 0"),
        ("model.stages=33", "model.stages: must be an integer >= 1 and <= 32, got 33"),
        ("model.attention=big", "model.attention: unknown value 'big' (known: cra, se, ca, none)"),
        ("model.depth=3", "model.depth: unknown key (known: attention, channels, dilation, reduction, stages)"),
        ("data.crop=-4", "data.crop: must be an integer >= 1, got -4"),
        ("data.subset=1.5", "data.subset: must be a number > 0 and <= 1, got 1.5"),
        ("data.presets=[hail]", "data.presets: unknown preset 'hail' (known: drizzle, light, heavy, storm, downpour, shower)"),
        ("data.presets=[]", "data.presets: must be a non-empty list of presets"),
        ("run.checkpoint_every=0", "run.checkpoint_every: must be an integer >= 1, got 0"),
        ("run.fast=maybe", "run.fast: must be true or false"),
        ("run.device=toaster", "run.device: must be auto, cpu, cuda or cuda:N"),
        ("run.amp=fp16", "run.amp: unknown value 'fp16' (known: bf16, off)"),
        ("run.verbose=true", "run.verbose: unknown key (known: amp, amp_cpu, checkpoint_every,"),
        ("loss.xyz=1", "loss.xyz: unknown loss term (known: brightness, contrastive, l1, lpips, segmentation, ssim)"),
        ("loss.ssim.colour=1", "loss.ssim.colour: unknown key (known: data_range, sigma, weight, window_size)"),
        ("loss.lpips.nett=vgg", "loss.lpips.nett: unknown key (known: linear, net, size, weight, weights)"),
        ("loss.lpips.net=squeeze", "loss.lpips.net: unknown value 'squeeze' (known: alex, vgg)"),
        ("loss.lpips.size=0", "loss.lpips.size: must be an integer >= 1 or null, got 0"),
        ("loss.ssim.weight=heavy", "loss.ssim.weight: must be a non-negative number, got 'heavy'"),
        ("loss.ssim=[1]", "loss.ssim: must be a number (its weight) or a mapping of settings, got [1]"),
        ("loss.contrastive.kind=triplet", "loss.contrastive.kind: unknown contrastive kind 'triplet' (known: pcl, l1, none)"),
        ("optim.learning_rate=1", "optim.learning_rate: unknown key (known: batch_size, ema, gamma, grad_clip, lr, milestones, steps)"),
        ("nosuch.key=1", "nosuch: unknown section (known: data, loss, model, optim, run)"),
    ],
)
def test_a_bad_setting_is_one_line_naming_its_key_before_any_work(pairs, tmp_path, capsys, override, message):
    out = tmp_path / "run"
    code, errors = _train_cli(capsys, *_tiny_overrides(pairs, out), override)
    assert code == 2 and errors == [errors[0]] and errors[0].startswith(f"error: {message}"), errors
    assert not out.exists()


def test_cuda_asked_for_without_cuda_is_refused_up_front(pairs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, errors = _train_cli(capsys, *_tiny_overrides(pairs, tmp_path / "run"), "run.device=cuda")
    assert code == 2 and errors == ["error: run.device: cuda asked for, but PyTorch sees no CUDA device here; use cpu or auto"]
    assert not (tmp_path / "run").exists()


def test_a_config_file_whose_section_is_not_a_mapping_is_named(pairs, tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("optim: 5\n")
    code, errors = _train_cli(capsys, "--config", config, *_tiny_overrides(pairs, tmp_path / "run"))
    assert code == 2 and errors == [f"error: {config}: optim: must be a mapping of settings, got 5"]
    config.write_text("optim: {lr: [1, 2}\n")  # not YAML: one line with the place, not PyYAML's several
    code, errors = _train_cli(capsys, "--config", config, *_tiny_overrides(pairs, tmp_path / "run"))
    assert code == 2 and len(errors) == 1 and errors[0].startswith(f"error: {config}: not valid YAML (") and "line 1" in errors[0]


def _broken_checkpoints(pairs, tmp_path):
    """A real checkpoint's bytes, and files that are not loadable checkpoints."""
    trainer = Trainer(tiny_config(pairs, tmp_path / "real"))
    trainer.out_dir.mkdir(parents=True)
    trainer.save()
    real = (tmp_path / "real" / "last.pt").read_bytes()
    torch.save([1, 2, 3], tmp_path / "list.pt")
    torch.save({"model": {}}, tmp_path / "partial.pt")
    torch.save({"x": Path("a")}, tmp_path / "object.pt")  # a pickled object: refused by weights_only
    state = torch.load(tmp_path / "real" / "last.pt", weights_only=True)
    torch.save({**state, "model": {"other.weight": torch.zeros(1)}}, tmp_path / "misfit.pt")
    return {
        "empty": b"",
        "truncated": real[: len(real) // 2],
        "random bytes": np.random.default_rng(0).bytes(4096),
        "a list": (tmp_path / "list.pt").read_bytes(),
        "a dict without the training state": (tmp_path / "partial.pt").read_bytes(),
        "a pickled object": (tmp_path / "object.pt").read_bytes(),
        "weights of another network": (tmp_path / "misfit.pt").read_bytes(),
    }


def test_resume_from_an_unloadable_checkpoint_is_one_line(pairs, tmp_path, capsys):
    for kind, content in _broken_checkpoints(pairs, tmp_path).items():
        out = tmp_path / kind.replace(" ", "_")
        out.mkdir()
        (out / "last.pt").write_bytes(content)
        code, errors = _train_cli(capsys, *_tiny_overrides(pairs, out), "--resume")
        assert code == 2 and len(errors) == 1, (kind, errors)
        assert errors[0].startswith(f"error: {out / 'last.pt'}: not a loadable checkpoint ("), (kind, errors)
        assert "weights_only=False" not in errors[0]


def _rows(path):
    return list(csv.DictReader(open(path, newline="")))


def test_resume_after_kill_9_logs_each_step_once(pairs, tmp_path, monkeypatch):
    extra = ("run.checkpoint_every=4",)  # 3 epochs of 2 steps; checkpoint at step 4, validation every 2 steps
    Trainer(tiny_config(pairs, tmp_path / "whole", *extra)).train()

    killed = Trainer(tiny_config(pairs, tmp_path / "killed", *extra))
    original = killed.loss.forward

    def dies_at_step_5(derained, clean, rainy):
        if killed.step == 5:
            raise RuntimeError("kill -9")  # no checkpoint, as after SIGKILL
        return original(derained, clean, rainy)

    monkeypatch.setattr(killed.loss, "forward", dies_at_step_5)
    with pytest.raises(RuntimeError, match="kill -9"):
        killed.train()
    log = tmp_path / "killed" / "train.csv"
    assert [row["step"] for row in _rows(log)] == ["1", "2", "3", "4", "5"]
    with open(log, "a") as handle:
        handle.write("6,2,0.00")  # and a row cut short by the kill
    Trainer(tiny_config(pairs, tmp_path / "killed", *extra), resume=True).train()

    for name in ("train.csv", "val.csv"):
        whole, resumed = _rows(tmp_path / "whole" / name), _rows(tmp_path / "killed" / name)
        steps = [int(row["step"]) for row in resumed]
        assert steps == sorted(steps) and len(set(map(str, zip(steps, (r.get("set") for r in resumed))))) == len(steps), name
        assert [(r["step"], r["epoch"]) for r in resumed] == [(r["step"], r["epoch"]) for r in whole], name
    assert [r["step"] for r in _rows(tmp_path / "killed" / "train.csv")] == ["1", "2", "3", "4", "5", "6"]
    # exact resume: the same losses as the run that was never killed
    assert [r["total"] for r in _rows(tmp_path / "killed" / "train.csv")] == [r["total"] for r in _rows(tmp_path / "whole" / "train.csv")]


@pytest.mark.parametrize("workers", [0, 1])
def test_a_corrupt_photo_checkpoints_names_the_file_and_resume_goes_on(pairs, tmp_path, capsys, workers):
    photos = tmp_path / "photos"
    shutil.copytree(pairs / "clean", photos)  # eight 40x40 clean photos: 2 steps of 4 an epoch, 2 epochs
    out = tmp_path / "run"
    dropped = ("data.train", "data.workers", "run.checkpoint_every", "optim.steps")
    overrides = [o for o in _tiny_overrides(pairs, out) if not o.startswith(dropped)]
    overrides += [f"data.synthetic={photos}", f"data.workers={workers}", "run.checkpoint_every=100", "optim.steps=4"]
    assert _train_cli(capsys, *overrides, "optim.steps=2")[0] == 0

    bad = photos / "3.png"
    good = bad.read_bytes()
    bad.write_bytes(np.random.default_rng(1).bytes(300))  # garbage where a photo was
    code, lines = _train_cli(capsys, *overrides, "--resume")
    errors = [line for line in lines if line.startswith("error")]  # the others: the progress bar
    assert code == 2 and len(errors) == 1 and errors[0].startswith(f"error: {bad}: cannot read image: "), lines
    assert "checkpoint written at step" in errors[0] and not any("Traceback" in line for line in lines)
    state = torch.load(out / "last.pt", weights_only=True)
    logged = [int(row["step"]) for row in _rows(out / "train.csv")]
    assert state["step"] == logged[-1] >= 2  # the last completed step, nothing learnt lost
    assert f"checkpoint written at step {state['step']}" in errors[0]

    bad.write_bytes(good)
    assert _train_cli(capsys, *overrides, "--resume")[0] == 0
    assert [int(row["step"]) for row in _rows(out / "train.csv")] == [1, 2, 3, 4]
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 4
