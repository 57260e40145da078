"""The SAPNet trainer (paper §3.4–3.5, §4.1): one CPU, one GPU, or several GPUs with torchrun.

Design points:
- Every random choice of the data is a function of (seed, epoch, item), and the batch order of
  (seed, epoch), so a run stopped and resumed from a checkpoint gives the same weights as one
  that never stopped, and a run on N processes sees the same global batches as one process.
- The schedule is counted in optimiser steps (:mod:`sapnet.engine.train.config`): the LR of each step
  is a function of the step alone (:func:`learning_rate`), so a resumed run needs no scheduler
  state and follows the config's schedule, which may be longer or shorter than the first one's.
- Checkpoints (model, optimiser, position, RNG states, config) are written atomically every
  ``run.checkpoint_every`` steps and at the end; a killed run loses at most that many steps.
- Non-finite losses are skipped and counted; ``run.max_nonfinite`` in a row stop the run.
- ``optim.ema``: an exponential moving average of the weights (torch's ``AveragedModel``) is
  updated after every step and is what validation, snapshots and ``model.safetensors`` hold;
  the training checkpoint keeps both, so resume stays exact.
- An unreadable image stops the run with a checkpoint at the last completed step and one line
  naming the file; once it is replaced or removed, ``--resume`` goes on from there.
- On resume, log rows written after the checkpoint (by a run killed with ``kill -9``) are
  dropped, so ``train.csv`` and ``val.csv`` hold each step once.
"""

from __future__ import annotations

import bisect
import csv
import os
import random
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from sapnet.data import DataError, PairedDataset, SyntheticRainDataset
from sapnet.data.rain import VeilPrior
from sapnet.engine.infer.backends import pick_device
from sapnet.engine.infer.tiling import derain_tensor
from sapnet.files import atomic_write
from sapnet.losses import build_loss
from sapnet.metrics import score_pair
from sapnet.models.checkpoints import CheckpointError, safe_torch_load, save_checkpoint
from sapnet.models.sapnet import SAPNet, SAPNetConfig
from sapnet.signals import sigterm_as_interrupt

CHECKPOINT = "last.pt"
LOGS = ("train.csv", "val.csv")
# What a training checkpoint holds (see Trainer.save).
# (Those written while the schedule was counted in epochs also hold a "scheduler": not needed,
# as the LR follows from the step.)
_STATE_KEYS = ("model", "model_config", "optimizer", "step", "epoch", "batch_in_epoch", "nonfinite", "rng")


class TrainingError(RuntimeError):
    """A run that cannot start or go on; the message says why."""


class SeededItems(Dataset):
    """Makes every item of ``dataset`` a function of (seed, epoch, index): torch's RNG is seeded
    from them around each ``__getitem__``, whichever worker or process loads it."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(hash((self.seed, self.epoch, index)) & 0x7FFF_FFFF_FFFF)
            return self.dataset[index]


def epoch_batches(size: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[list[int]]:
    """This process's share of each global batch of ``epoch`` (a seeded permutation, last partial
    batch dropped). Rank r takes items r, r + world, … of each global batch."""
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed * 100_003 + epoch)).tolist()
    return [order[start : start + batch_size][rank::world] for start in range(0, size - batch_size + 1, batch_size)]


def build_dataset(data: dict[str, Any], seed: int) -> Dataset:
    if data["synthetic"] is not None:
        veil = None if data["veil"] is None else VeilPrior(**data["veil"])  # checked by load_config
        dataset = SyntheticRainDataset(
            data["synthetic"], crop=data["crop"], presets=data["presets"], seed=seed, epoch_length=data["epoch_length"],
            cache=True, veil=veil, dry=data["dry"], scene_lines=data["scene_lines"],
            scene_lines_presets=data["scene_lines_presets"], lit_edges=data["lit_edges"],
        )
    else:
        dataset = PairedDataset(data["train"], crop=data["crop"], augment=data["augment"], subset=data["subset"], seed=seed)
    return SeededItems(dataset, seed)


def learning_rate(optim: dict[str, Any], step: int) -> float:
    """The LR of the step after ``step`` completed ones: ``optim.lr`` times ``optim.gamma`` for
    each of ``optim.milestones`` (increasing step numbers) that ``step`` has reached."""
    return optim["lr"] * optim["gamma"] ** bisect.bisect_right(optim["milestones"], step)


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles, where bfloat16 training measured 2-3× faster than float32
    (benchmarks/training_speed.py); without them bfloat16 is emulated and slower."""
    detect = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(detect and detect())


def _worker_message(error: Exception) -> str:
    """The message of an error raised in a DataLoader worker, which the loader re-raises with
    the worker's whole traceback as its message (its last line is ``Type: message``)."""
    text = str(error).strip()
    if "Original Traceback" not in text:
        return text
    last = text.splitlines()[-1]
    return last.split(": ", 1)[1] if ": " in last else last


def _trim_log(path: Path, step: int, epoch: int) -> None:
    """Drop the rows of a CSV log that come after the checkpoint at (step, epoch), and any row
    cut short by a kill, rewriting the file atomically."""
    if not path.exists():
        return
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames
        kept = []
        for row in reader:
            try:
                position = (int(row["step"]), int(row["epoch"]))
            except (KeyError, TypeError, ValueError):
                continue
            if position <= (step, epoch) and None not in row.values() and None not in row:
                kept.append(row)
    if not fields:  # killed before its header was written: the next row starts it afresh
        path.unlink()
        return
    with atomic_write(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(kept)


def _rng_states() -> dict[str, Any]:
    # numpy's state as tensors and ints, so the checkpoint loads with weights_only=True
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    numpy_state = {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": position, "has_gauss": has_gauss, "gauss": gauss}
    states = {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_rng(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    numpy_state = states["numpy"]
    np.random.set_state((numpy_state["kind"], numpy_state["keys"].numpy().astype(np.uint32), numpy_state["pos"],
                         numpy_state["has_gauss"], numpy_state["gauss"]))
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class Trainer:
    """Runs one training configuration (see :mod:`sapnet.engine.train.config`)."""

    def __init__(self, config: dict[str, Any], resume: bool = False) -> None:
        self.config = config
        run, optim = config["run"], config["optim"]
        self.out_dir = Path(run["out_dir"])
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        if self.distributed:
            backend = "nccl" if torch.cuda.is_available() and run["device"] != "cpu" else "gloo"
            dist.init_process_group(backend)
            self.rank, self.world = dist.get_rank(), dist.get_world_size()
            local = int(os.environ.get("LOCAL_RANK", "0"))
            self.device = torch.device(f"cuda:{local}") if backend == "nccl" else torch.device("cpu")
            if backend == "nccl":
                torch.cuda.set_device(self.device)
        else:
            self.rank, self.world = 0, 1
            self.device = pick_device(run["device"])
        if optim["batch_size"] % self.world:
            raise TrainingError(f"optim.batch_size {optim['batch_size']} is not divisible by the {self.world} processes")
        self.main = self.rank == 0

        torch.manual_seed(run["seed"])
        self.model = SAPNet(SAPNetConfig.from_dict(config["model"])).to(self.device)
        try:
            self.loss = build_loss(config["loss"]).to(self.device)
        except (TypeError, ValueError) as error:  # an option of the right name but a wrong value
            raise TrainingError(f"loss: {error}") from None
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=optim["lr"])
        # built before init_from or resume loads weights: a new run's first update copies the
        # trained weights, a resumed run loads its average
        self.ema = None if optim["ema"] is None else AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(optim["ema"]), use_buffers=True)
        self.dataset = build_dataset(config["data"], run["seed"])
        if not epoch_batches(len(self.dataset), optim["batch_size"], 0, 0):
            raise TrainingError(f"{len(self.dataset)} training items are fewer than one batch of {optim['batch_size']}")
        self.step, self.epoch, self.batch_in_epoch, self.nonfinite = 0, 0, 0, 0
        if resume:
            self._resume()
        else:
            if self.main and (self.out_dir / CHECKPOINT).exists():
                raise TrainingError(f"{self.out_dir / CHECKPOINT} exists: pass --resume to continue that run, or choose another run.out_dir")
            if run["init_from"] is not None:
                self._initialise(run["init_from"])
        self.train_model = self._wrap(self.model)
        amp = run["amp"] if self.device.type == "cuda" else run["amp_cpu"]
        if amp == "auto":  # run.amp_cpu only (load_config)
            amp = "bf16" if cpu_has_amx() else "off"
        self.amp = amp
        self.autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if amp == "bf16" else nullcontext()

    @property
    def kept_model(self) -> SAPNet:
        """The network that validation, snapshots and ``model.safetensors`` hold: the moving
        average of the weights with ``optim.ema``, the trained weights themselves without."""
        return self.model if self.ema is None else self.ema.module

    def _wrap(self, model: SAPNet) -> torch.nn.Module:
        if self.config["run"]["fast"]:
            from sapnet.engine.train.compile import prepare_for_training

            model = prepare_for_training(model)
        if self.distributed:
            model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[self.device] if self.device.type == "cuda" else None)
        return model

    # -- checkpoints ---------------------------------------------------------------------------
    def _initialise(self, weights: str) -> None:
        """Fine-tuning: the network starts from ``weights``; optimiser, schedule and step start afresh."""
        from sapnet.hub import WeightsError, load_network

        try:
            start = load_network(weights)
        except WeightsError as error:
            raise TrainingError(f"run.init_from: {error}") from None
        if start.config != self.model.config:
            raise TrainingError(f"run.init_from {weights}: its model {start.config.to_dict()} differs from the config's {self.model.config.to_dict()}")
        self.model.load_state_dict(start.state_dict())

    def _resume(self) -> None:
        path = self.out_dir / CHECKPOINT
        if not path.exists():
            raise TrainingError(f"--resume: no checkpoint at {path}")
        try:
            state = safe_torch_load(path)
        except CheckpointError as error:
            raise TrainingError(str(error)) from None
        missing = [key for key in _STATE_KEYS if key not in state] if isinstance(state, dict) else None
        if missing is None or missing:
            what = f"a {type(state).__name__}" if missing is None else f"a dict without {', '.join(missing)}"
            raise TrainingError(f"{path}: not a loadable checkpoint ({what}, not a training checkpoint of sapnet train)")
        if state["model_config"] != self.model.config.to_dict():
            raise TrainingError(f"{path}: its model {state['model_config']} differs from the config's {self.model.config.to_dict()}")
        if self.ema is not None and "ema" not in state:
            raise TrainingError(f"{path}: holds no moving average of the weights (written with optim.ema off); set optim.ema=null to resume it")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            _restore_rng(state["rng"])
            self.step, self.epoch, self.batch_in_epoch = (int(state[key]) for key in ("step", "epoch", "batch_in_epoch"))
            self.nonfinite = int(state["nonfinite"])
            if self.ema is not None:
                self.ema.load_state_dict(state["ema"])
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
            problem = " ".join(line.strip() for line in str(error).splitlines() if line.strip())[:300] or type(error).__name__
            raise TrainingError(f"{path}: not a loadable checkpoint (its contents do not fit: {problem})") from None
        if self.main:
            for name in LOGS:
                _trim_log(self.out_dir / name, self.step, self.epoch)

    def save(self) -> None:
        if not self.main:
            return
        state = {
            "model": self.model.state_dict(),
            "model_config": self.model.config.to_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "nonfinite": self.nonfinite,
            "rng": _rng_states(),
            "config": self.config,
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        with atomic_write(self.out_dir / CHECKPOINT) as tmp:
            torch.save(state, tmp)
        save_checkpoint(self.kept_model, self.out_dir / "model.safetensors", metadata={"step": str(self.step), "epoch": str(self.epoch)})

    # -- logging -------------------------------------------------------------------------------
    def _log(self, name: str, row: dict[str, Any]) -> None:
        path = self.out_dir / name
        new = not path.exists()
        with open(path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self.tensorboard is not None:
            for key, value in row.items():
                if key not in ("step", "epoch") and isinstance(value, (int, float)):
                    self.tensorboard.add_scalar(f"{Path(name).stem}/{key}", value, row["step"])

    def _open_logs(self) -> None:
        self.tensorboard = None
        if not self.main:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        record = {**self.config, "backbones": self.loss.weights_sources(), "world_size": self.world, "device": str(self.device)}
        (self.out_dir / "config.yaml").write_text(yaml.safe_dump(record, sort_keys=False))
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(str(self.out_dir / "tensorboard"))
        except ImportError:
            tqdm.write("TensorBoard logging off: `pip install tensorboard` to turn it on (CSV logs are written anyway)")

    # -- validation ----------------------------------------------------------------------------
    def validate(self) -> dict[str, dict[str, float]] | None:
        """Mean scores on each validation folder (``data.val``: one or a list), a val.csv row each."""
        data = self.config["data"]
        if data["val"] is None or not self.main:
            return None
        folders = [data["val"]] if isinstance(data["val"], (str, os.PathLike)) else data["val"]
        model = self.kept_model
        model.eval()
        results = {}
        for folder in folders:
            dataset = PairedDataset(folder, crop=None, augment=False)
            limit = len(dataset) if data["val_limit"] is None else min(data["val_limit"], len(dataset))
            scores = []
            for index in range(limit):
                rainy, clean = dataset[index]
                output = derain_tensor(model, rainy[None])[0]
                scores.append(score_pair(output, clean))
            mean = {key: float(np.mean([s[key] for s in scores])) for key in scores[0]}
            name = Path(folder).name
            self._log("val.csv", {"step": self.step, "epoch": self.epoch, "set": name, "images": limit, **mean})
            results[name] = mean
        self.model.train()
        return results

    # -- the loop ------------------------------------------------------------------------------
    def train(self) -> Path:
        """Train until step ``optim.steps``; an interrupt (Ctrl-C, SIGINT) or
        SIGTERM (``kill``; a background ``nohup … &`` run ignores SIGINT) writes a checkpoint
        before it stops the run, as does an image that cannot be read (a TrainingError naming it)."""
        with sigterm_as_interrupt():
            try:
                return self._train()
            except KeyboardInterrupt:
                self.save()
                raise
            except DataError as error:  # an unreadable image: keep what was learnt, say which file
                self.save()
                raise TrainingError(
                    f"{_worker_message(error)}; checkpoint written at step {self.step}: replace or remove "
                    "the file, then pass --resume"
                ) from None

    def _train(self) -> Path:
        run, optim = self.config["run"], self.config["optim"]
        self._open_logs()
        total = optim["steps"]
        progress = tqdm(total=total, initial=self.step, unit="step", disable=not self.main, dynamic_ncols=True)
        try:
            self.model.train()
            started, consecutive = time.time(), 0
            while self.step < total:
                batches = epoch_batches(len(self.dataset), optim["batch_size"], run["seed"], self.epoch, self.rank, self.world)
                self.dataset.set_epoch(self.epoch)
                loader = DataLoader(
                    self.dataset,
                    batch_sampler=batches[self.batch_in_epoch :],
                    num_workers=self.config["data"]["workers"],
                    pin_memory=self.device.type == "cuda",
                    persistent_workers=False,
                )
                for rainy, clean in loader:
                    for group in self.optimizer.param_groups:
                        group["lr"] = learning_rate(optim, self.step)
                    rainy, clean = rainy.to(self.device, non_blocking=True), clean.to(self.device, non_blocking=True)
                    with self.autocast:
                        derained = self.train_model(rainy)
                        loss, terms = self.loss(derained, clean, rainy)
                    self.optimizer.zero_grad(set_to_none=True)
                    if torch.isfinite(loss):
                        loss.backward()
                        if optim["grad_clip"] is not None:
                            terms["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), optim["grad_clip"]))
                        self.optimizer.step()
                        if self.ema is not None:
                            self.ema.update_parameters(self.model)
                        consecutive = 0
                    else:
                        self.nonfinite += 1
                        consecutive += 1
                        if consecutive >= run["max_nonfinite"]:
                            self.save()
                            raise TrainingError(
                                f"the loss was non-finite for {consecutive} steps in a row (step {self.step}); "
                                "lower optim.lr or check the data"
                            )
                    self.step += 1
                    self.batch_in_epoch += 1
                    progress.update(1)
                    if self.main and self.step % run["log_every"] == 0:
                        progress.set_postfix(loss=f"{terms['total']:.4f}", lr=f"{self.optimizer.param_groups[0]['lr']:.2e}")
                        self._log("train.csv", {"step": self.step, "epoch": self.epoch, "lr": self.optimizer.param_groups[0]["lr"],
                                                "nonfinite": self.nonfinite, "seconds": round(time.time() - started, 2), **terms})
                    if self.step % run["val_every"] == 0:  # before the checkpoint, so a resumed run never skips one
                        for name, mean in (self.validate() or {}).items():
                            progress.write(f"step {self.step} {name}: " + ", ".join(f"{k} {v:.4f}" for k, v in mean.items()))
                    if self.step % run["checkpoint_every"] == 0:
                        self.save()
                    if self.main and run["snapshot_every"] and self.step % run["snapshot_every"] == 0:
                        save_checkpoint(self.kept_model, self.out_dir / "snapshots" / f"step_{self.step}.safetensors", metadata={"step": str(self.step)})
                    if self.step >= total:
                        break
                if self.batch_in_epoch >= len(batches):
                    self.epoch += 1
                    self.batch_in_epoch = 0
        finally:  # also when the run stops on an error, so its line is not followed by a stale bar
            progress.close()
        self.save()
        if self.tensorboard is not None:
            self.tensorboard.close()
        if self.distributed:
            dist.barrier()
            dist.destroy_process_group()
        return self.out_dir / "model.safetensors"
