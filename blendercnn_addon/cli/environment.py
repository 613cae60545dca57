"""``create-env``: a separate Python environment with the pinned TensorFlow (what Create Environment runs)."""

from __future__ import annotations

import argparse
import os

from ..errors import UserError
from .arguments import folder_argument


def add_commands(commands) -> None:
    """create-env."""
    ce = commands.add_parser(
        "create-env", help="create a separate Python environment with the pinned TensorFlow, numpy, pillow",
        description="Make a virtual environment in DIR (with the Python running this command) and install "
                    "the pinned packages into it: what the panel's Create Environment button runs. Progress "
                    "is one JSON line per step on stdout; pip's output goes to stderr.")
    ce.add_argument("--dir", required=True, metavar="DIR", help="environment folder (new or empty)")
    ce.add_argument("--variant", choices=("cpu", "cuda"), default="cpu",
                    help="cpu: tensorflow-cpu; cuda: tensorflow[and-cuda] (Linux with an NVIDIA GPU)")
    ce.add_argument("--find-links", metavar="WHEELS", default=None,
                    help="install offline from this folder of wheels (pip --no-index --find-links); "
                         "default: $BLENDERCNN_WHEEL_FOLDER, else download from the package index")
    ce.set_defaults(handler=create_env)


def create_env(args: argparse.Namespace) -> int:
    from ..processes.interpreter import check_wheel_folder, create_environment, wheel_folder
    from ..processes.protocol import JsonLinesWriter
    from ..processes.workers import exit_with_parent

    exit_with_parent()
    folder_argument(args.dir, "--dir")
    if os.path.isdir(args.dir) and os.listdir(args.dir) and not os.path.exists(os.path.join(args.dir, "pyvenv.cfg")):
        raise UserError(f"{args.dir} is neither empty nor a Python environment; choose another folder")
    wheels = wheel_folder(args.find_links or "")
    if wheels:
        check_wheel_folder(wheels)  # before the folder is made: a wrong path leaves nothing behind
    create_environment(os.path.abspath(args.dir), args.variant, JsonLinesWriter(),
                       find_links=os.path.abspath(wheels) if wheels else "")
    return 0
