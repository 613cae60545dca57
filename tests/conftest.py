"""Shared fixtures: a real extension zip, installed into the real ``bpy`` module as Preferences does.

Blender reads BLENDER_USER_RESOURCES once, at ``import bpy``, so it is pointed at a
private temporary folder here, before any test module imports bpy: the tests never
touch a real user configuration.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER_RESOURCES = tempfile.mkdtemp(prefix="blendercnn-test-user-")
os.environ["BLENDER_USER_RESOURCES"] = USER_RESOURCES
sys.path.insert(0, os.path.join(ROOT, "tools"))

ADDON_MODULE = "bl_ext.user_default.blendercnn_addon"
# make test-compat runs the compat subset in environments with bpy but no TensorFlow; the
# panel's training and preview workers then run in the Python this variable names.
TF_PYTHON_ENV = "BLENDERCNN_TEST_TENSORFLOW_PYTHON"


def pytest_configure(config):
    config.addinivalue_line("markers", "compat: part of make test-compat, run on every supported Blender")
    config.addinivalue_line("markers", "faults: make test-faults: full disks, signals, concurrent runs, Ray exposure")


def addon_module(name: str):
    """A module of the installed add-on (``bl_ext.user_default.blendercnn_addon.<name>``)."""
    return sys.modules[f"{ADDON_MODULE}.{name}"]


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory) -> str:
    """The zip built by Blender's own blender_ext.py (build + validate)."""
    from build_extension import build

    return build(str(tmp_path_factory.mktemp("dist")))


@pytest.fixture(scope="session")
def addon(extension_zip):
    """The add-on installed from its zip with bpy.ops.extensions.package_install_files and enabled."""
    import bpy

    result = bpy.ops.extensions.package_install_files(
        filepath=extension_zip, repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}
    return sys.modules[ADDON_MODULE]


@pytest.fixture
def scene(addon):
    """A brand-new empty scene, made the context's scene for the test's operator calls."""
    import bpy

    new_scene = bpy.data.scenes.new("test scene")
    with bpy.context.temp_override(scene=new_scene):
        yield new_scene
    bpy.data.scenes.remove(new_scene)


@pytest.fixture
def seed_scene(scene):
    """A scene after Set Up Scene, rendering tiny (32 x 32) for speed."""
    import bpy

    assert bpy.ops.blendercnn.setup_scene() == {"FINISHED"}
    return scene


TENSORFLOW_COMMANDS = {"train", "evaluate", "predict", "serve", "invert", "export"}
IN_PROCESS_COMMANDS = {"train", "evaluate", "predict", "invert", "export"}  # serve reads this process's stdin: never here


def tensorflow_python() -> str:
    """The Python that runs TensorFlow: this one, or under make test-compat the one TF_PYTHON_ENV names."""
    return os.environ.get(TF_PYTHON_ENV) or sys.executable


def run_cli(*args: str, timeout: float = 300, env: dict | None = None,
            in_process: bool | None = None) -> subprocess.CompletedProcess:
    """``python -m blendercnn_addon ARGS`` from the repository, as a user runs it; ``env``: extra variables.

    TensorFlow's commands run in :func:`tensorflow_python`, the others (generate) in this Python.
    ``in_process`` (default: for train, evaluate, predict and invert when that Python is this one and
    no ``env`` is given): the same ``main(ARGS)`` run by a Python that keeps TensorFlow loaded
    (cli_host.py) instead of a new interpreter each time; what it prints and its exit code come back
    as a finished process's."""
    python = tensorflow_python() if args and args[0] in TENSORFLOW_COMMANDS else sys.executable
    if in_process is None:
        in_process = bool(args) and args[0] in IN_PROCESS_COMMANDS and python == sys.executable and env is None
    if in_process:
        return _CLI_HOST.run(list(args), timeout)
    return subprocess.run([python, "-m", "blendercnn_addon", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **env} if env else None)


class _CliHost:
    """The cli_host.py process, started on first use, started again if a command killed it."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.log = None

    def _start(self) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="blendercnn-cli-host-", suffix=".log", delete=False)
        self.process = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "cli_host.py")], cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self._reply(120)

    def _reply(self, timeout: float) -> dict:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the CLI host {'ended' if ready else 'did not answer in time'}; its log: "
                                 f"{open(self.log.name).read()[-3000:]}")
        return json.loads(line)

    def run(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess:
        if self.process is None or self.process.poll() is not None:
            self._start()
        self.process.stdin.write(json.dumps({"argv": argv}) + "\n")
        self.process.stdin.flush()
        answer = self._reply(timeout)
        return subprocess.CompletedProcess([sys.executable, "-m", "blendercnn_addon", *argv], answer["code"],
                                           answer["stdout"], answer["stderr"])


    def close(self) -> None:
        if self.process is not None:
            self.process.stdin.close()  # the host ends with its input
            self.process.wait(timeout=30)
            os.remove(self.log.name)


_CLI_HOST = _CliHost()


def pytest_sessionfinish(session, exitstatus):
    _CLI_HOST.close()


def poll_until(condition, timeout: float = 240.0) -> None:
    """Until ``condition()`` holds (AssertionError after ``timeout`` s), letting the add-on's background
    workers report as Blender's timer would."""
    background = addon_module("blender.background")
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the worker"
        background.poll()
        time.sleep(0.02)


def images(folder) -> list[str]:
    """The sample_*.png names in ``folder``, sorted."""
    return sorted(n for n in os.listdir(folder) if n.startswith("sample_") and n.endswith(".png"))


def wait_for_images(folder, at_least: int, timeout: float = 120.0) -> None:
    """Return once ``folder`` holds at least ``at_least`` images; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.isdir(folder) and len(images(folder)) >= at_least:
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {at_least} images in {folder} after {timeout} s")


TINY = ("--resolution", "32", "--samples", "4", "--denoiser", "none", "--workers", "1")
