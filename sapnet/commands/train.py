"""``sapnet train``: train SAPNet from a YAML config, resumable and distributed with torchrun."""

from __future__ import annotations

import argparse
import sys

HELP = "train SAPNet from a YAML config (torchrun --nproc_per_node N for several GPUs)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config (see configs/); defaults are the paper's recipe")
    parser.add_argument("overrides", nargs="*", metavar="section.key=value", help="config overrides, e.g. optim.lr=5e-4")
    parser.add_argument("--resume", action="store_true", help="continue the run in run.out_dir from its last checkpoint")


def run(args: argparse.Namespace) -> int:
    from sapnet.data import DataError
    from sapnet.engine.train.config import ConfigError, load_config
    from sapnet.engine.train.trainer import Trainer, TrainingError
    from sapnet.losses import MissingWeightsError

    try:
        config = load_config(args.config, args.overrides)
        model_path = Trainer(config, resume=args.resume).train()
    except (ConfigError, TrainingError, DataError, MissingWeightsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"trained model: {model_path}")
    return 0
