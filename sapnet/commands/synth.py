"""``sapnet synth``: make rainy/clean training pairs from clean photos."""

from sapnet.data.synth_cli import add_arguments, run

HELP = "synthesise rainy/clean pairs from a folder of clean photos"

__all__ = ["HELP", "add_arguments", "run"]
