"""Subcommands of the ``sapnet`` tool: name → (help, add_arguments(parser), run(args) -> exit code)."""

from sapnet.commands import derain

SUBCOMMANDS = {
    "derain": (derain.HELP, derain.add_arguments, derain.run),
}
