"""The ``sapnet`` command line: one subcommand per job, each defined in a module of :data:`sapnet.commands.COMMANDS`."""

from __future__ import annotations

import argparse
import importlib
import sys

from sapnet import __version__
from sapnet.commands import COMMANDS


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with the options of ``command`` only (all commands are listed; one is loaded)."""
    parser = argparse.ArgumentParser(prog="sapnet", description="Remove rain from photographs with SAPNet.")
    parser.add_argument("--version", action="version", version=f"sapnet {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in argv if not arg.startswith("-")), None)  # the top level has options only
    args = build_parser(command).parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
