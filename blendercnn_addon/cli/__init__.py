"""Command line: ``python -m blendercnn_addon <command>`` and ``blender -c blendercnn <command>``.

Both routes call :func:`main`. Errors print one readable line on stderr and give a non-zero exit
code; ``--help`` documents every option. One module per group of commands: ``generate`` (renders,
the only one that needs Blender, imported after its input is checked), ``train``, ``models``
(evaluate, predict, invert, serve), ``environment`` (create-env); ``arguments`` holds what they share.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import UserError
from . import environment, generate, models, train
from .arguments import OneLineParser

EXIT_FAILURE = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
COMMAND_GROUPS = (generate, train, models, environment)


def build_parser(prog: str = "python -m blendercnn_addon") -> argparse.ArgumentParser:
    parser = OneLineParser(prog=prog, description="BlenderCNN: render vector-to-image datasets with Blender.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    commands.required = True
    for group in COMMAND_GROUPS:
        group.add_commands(commands)
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m blendercnn_addon") -> int:
    """Run one command; returns the exit code (0 ok, 1 the machine failed us, e.g. a full disk
    outside a render, 2 bad input, 130 interrupted)."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
        return args.handler(args)
    except UserError as err:
        sys.stderr.write(f"{prog.split()[-1]}: error: {err}\n")
        return EXIT_USER_ERROR
    except OSError as err:  # the machine's side: a full disk, a folder that vanished, permissions
        where = f" ({err.filename})" if err.filename else ""
        sys.stderr.write(f"{prog.split()[-1]}: error: {err.strerror or err}{where}\n")
        return EXIT_FAILURE
    except SystemExit as done:  # --help
        return int(done.code or 0)
    except KeyboardInterrupt:  # Ctrl-C in a command that does not stop gracefully (invert, predict, evaluate)
        sys.stderr.write(f"{prog.split()[-1]}: interrupted; nothing more was written\n")
        return EXIT_INTERRUPTED


def blender_command(argv: list[str]) -> int:
    """Handler for ``blender -c blendercnn ...`` (registered with bpy.utils.register_cli_command)."""
    return main(argv, prog="blender -c blendercnn")
