"""What every command shares: a parser whose errors are one line, and the argument types. Blender-free."""

from __future__ import annotations

import argparse
import os
import re
import sys

from ..errors import UserError


# A negative number as an option's value, scientific notation included (argparse's own pattern, in
# Python 3.11, takes -1e-1 for an option name): -1, -0.5, -.5, -1e-1, -2.5E+3, -inf.
NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-inf$")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (not usage + message) and never calls sys.exit, and
    every negative number reads as a value (NEGATIVE_NUMBER)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER

    def error(self, message):
        raise UserError(f"{message} (see {self.prog} --help)")

    def exit(self, status=0, message=None):
        if message:
            sys.stderr.write(message)
        raise SystemExit(status)


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def shard(text: str) -> tuple[int, int]:
    """'I/N' → (I, N)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N (e.g. 3/8), got {text!r}") from None
    if not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"shard I/N needs 0 <= I < N, got {text!r}")
    return index, count


def folder_argument(value: str, option: str = "--out") -> str:
    """An absolute path for a folder option; UserError for an empty one (it would mean '.')."""
    if not value.strip():
        raise UserError(f"{option} is empty: name a folder")
    return os.path.abspath(value)


def check_png_out(path: str) -> str:
    """--out of a single prediction: a .png file in a folder that exists."""
    if not path.strip():
        raise UserError("--out is empty: name a .png file")
    if os.path.splitext(path)[1].lower() != ".png" or os.path.isdir(path):
        raise UserError(f"--out {path!r} must name a .png file (for --vectors, a folder)")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"the folder of --out does not exist: {folder}")
    return path


def quiet_tensorflow() -> None:
    """Import TensorFlow now, its start-up lines silenced (ml/tensorflow_import.py)."""
    from ..ml.tensorflow_import import import_tensorflow_quietly

    import_tensorflow_quietly()
