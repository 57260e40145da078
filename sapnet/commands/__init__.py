"""Subcommands of the ``sapnet`` tool: name → (help, add_arguments(parser), run(args) -> exit code)."""

from sapnet.commands import derain, synth, train

SUBCOMMANDS = {
    "derain": (derain.HELP, derain.add_arguments, derain.run),
    "train": (train.HELP, train.add_arguments, train.run),
    "synth": (synth.HELP, synth.add_arguments, synth.run),
}
