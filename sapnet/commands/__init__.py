"""Subcommands of the ``sapnet`` tool: name → (help, add_arguments(parser), run(args) -> exit code)."""

from sapnet.commands import compare, derain, downstream, evaluate, export, synth, train

SUBCOMMANDS = {
    "derain": (derain.HELP, derain.add_arguments, derain.run),
    "train": (train.HELP, train.add_arguments, train.run),
    "synth": (synth.HELP, synth.add_arguments, synth.run),
    "export": (export.HELP, export.add_arguments, export.run),
    "evaluate": (evaluate.HELP, evaluate.add_arguments, evaluate.run),
    "efficiency": (evaluate.EFFICIENCY_HELP, evaluate.add_efficiency_arguments, evaluate.run_efficiency),
    "compare": (compare.HELP, compare.add_arguments, compare.run),
    "downstream": (downstream.HELP, downstream.add_arguments, downstream.run),
}
