"""Find, check and create the Python that runs TensorFlow for the add-on. No bpy.

Blender's own Python never gets TensorFlow (nothing is pip-installed into it):
training, preview and evaluation run in a separate interpreter. That is, in
order of preference: the one in the add-on preferences, the environment the
add-on created in its user folder, ``$BLENDERCNN_PYTHON``, then ``python3.13``,
``python3.12``, ``python3.11``, ``python3`` and ``python`` on PATH. The first that can import
TensorFlow, numpy and pillow wins.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

# Versions that work together (docs/FACTS.md, "Versions that work together"); tests check these against requirements.txt.
# They install on Python 3.11 (Blender 4.2-5.0's) and 3.13 (Blender 5.1+'s) alike.
TENSORFLOW_VERSION = "2.21.0"
# TensorBoard is named on its own: training logs to it, and newer TensorFlow wheels no longer pull it in.
SHARED_PINS = ("tensorboard==2.21.0", "numpy==2.4.6", "pillow==13.0.0")
VARIANT_PACKAGES = {
    "cpu": (f"tensorflow-cpu=={TENSORFLOW_VERSION}",) + SHARED_PINS,
    "cuda": (f"tensorflow[and-cuda]=={TENSORFLOW_VERSION}",) + SHARED_PINS,
}
REQUIRED_MODULES = ("tensorflow", "tensorboard", "numpy", "PIL")
PROBE_TIMEOUT_S = 30
_PROBE_CODE = (
    "import importlib.util, json, sys; "
    "print(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3], "
    f"'missing': [m for m in {REQUIRED_MODULES!r} if importlib.util.find_spec(m) is None]}}))"
)


@dataclass
class Probe:
    """What an interpreter offers. ``usable`` when it runs and has every required module."""

    python: str
    version: str = ""
    missing: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def usable(self) -> bool:
        return not self.error and not self.missing

    def describe(self) -> str:
        """One line for the panel or a report."""
        if self.error:
            return f"{self.python}: {self.error}"
        if self.missing:
            return f"{self.python} (Python {self.version}) lacks {', '.join(self.missing)}"
        return f"{self.python} (Python {self.version}) has TensorFlow"


def probe(python: str) -> Probe:
    """Run ``python`` briefly and ask which required modules it can import (without importing them)."""
    if not python:
        return Probe(python, error="no interpreter given")
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        return Probe(python, error="not an executable file")
    try:
        from .workers import subprocess_environment

        done = subprocess.run([python, "-c", _PROBE_CODE], capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT_S, env=subprocess_environment())
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        return Probe(python, version=answer["version"], missing=list(answer["missing"]))
    except subprocess.TimeoutExpired:
        return Probe(python, error=f"did not answer within {PROBE_TIMEOUT_S} s")
    except (OSError, ValueError, IndexError, KeyError) as err:
        return Probe(python, error=f"is not a working Python ({type(err).__name__})")


def environment_python(env_dir: str) -> str:
    """The interpreter inside a venv folder."""
    if sys.platform == "win32":
        return os.path.join(env_dir, "Scripts", "python.exe")
    return os.path.join(env_dir, "bin", "python")


def candidates(configured: str, env_dir: str) -> list[str]:
    """Interpreters to try, best first, without duplicates or missing files."""
    names = [configured, environment_python(env_dir), os.environ.get("BLENDERCNN_PYTHON", "")]
    names += [shutil.which(n) or "" for n in ("python3.13", "python3.12", "python3.11", "python3", "python")]
    seen, out = set(), []
    for name in names:
        # Not realpath: a venv's python is a symlink to its base interpreter, yet sees other packages.
        if name and os.path.isfile(name) and os.path.abspath(name) not in seen:
            seen.add(os.path.abspath(name))
            out.append(name)
    return out


def detect(configured: str, env_dir: str) -> tuple[Probe | None, list[Probe]]:
    """(first usable interpreter or None, every probe made) — the list explains a failure."""
    probes = []
    for python in candidates(configured, env_dir):
        result = probe(python)
        probes.append(result)
        if result.usable:
            return result, probes
    return None, probes


def nvidia_gpu_present() -> bool:
    """Linux with an NVIDIA driver loaded: the only place ``tensorflow[and-cuda]`` helps."""
    return sys.platform.startswith("linux") and (
        os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None)


WHEEL_FOLDER_VARIABLE = "BLENDERCNN_WHEEL_FOLDER"  # a folder of wheels: install offline from it


def wheel_folder(configured: str = "") -> str:
    """The folder Create Environment installs from instead of the package index: the preference's,
    else ``$BLENDERCNN_WHEEL_FOLDER``; '' to download."""
    return configured or os.environ.get(WHEEL_FOLDER_VARIABLE, "")


def create_environment_steps(base_python: str, env_dir: str, variant: str,
                             find_links: str = "") -> list[tuple[str, list[str]]]:
    """(title, argv) steps that make a venv at ``env_dir`` holding the pinned packages of ``variant``.
    With ``find_links`` (a folder of wheels, e.g. an offline studio's), pip installs only from there
    (``--no-index``) and keeps the venv's own pip."""
    if variant not in VARIANT_PACKAGES:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANT_PACKAGES)}")
    python = environment_python(env_dir)
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"]
    packages = list(VARIANT_PACKAGES[variant])
    if find_links:
        return [
            ("Creating the environment", [base_python, "-m", "venv", env_dir]),
            (f"Installing {', '.join(packages)} from {find_links}",
             pip + ["--no-index", "--find-links", find_links] + packages),
        ]
    return [
        ("Creating the environment", [base_python, "-m", "venv", env_dir]),
        ("Updating pip", pip + ["--upgrade", "pip"]),
        (f"Installing {', '.join(packages)}", pip + packages),
    ]


def check_wheel_folder(find_links: str) -> None:
    """UserError unless ``find_links`` is a folder holding at least one wheel."""
    from ..errors import UserError

    if not os.path.isdir(find_links):
        raise UserError(f"wheel folder {find_links} does not exist")
    if not any(name.endswith(".whl") for name in os.listdir(find_links)):
        raise UserError(f"wheel folder {find_links} holds no .whl files")


def create_environment(env_dir: str, variant: str, report, base_python: str | None = None,
                       find_links: str = "") -> None:
    """Run the steps of :func:`create_environment_steps`, reporting ("step", step=i, steps=n, title=...)
    before each; their own output goes to this process's stderr. UserError when a step fails."""
    from ..errors import UserError

    if find_links:
        check_wheel_folder(find_links)
    steps = create_environment_steps(base_python or sys.executable, env_dir, variant, find_links)
    for number, (title, argv) in enumerate(steps, start=1):
        report("step", step=number, steps=len(steps), title=title)
        code = subprocess.run(argv, stdout=sys.stderr, stderr=sys.stderr).returncode
        if code != 0:
            raise UserError(f"{title.split(' from ')[0].lower()} failed (exit code {code}); see the log above")
    found = probe(environment_python(env_dir))
    if not found.usable:
        raise UserError(f"the new environment is not usable: {found.describe()}")
    report("done", python=found.python, version=found.version)
