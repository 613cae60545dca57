"""make test-compat: the tests marked ``compat`` on each Blender the extension supports besides the main one.

Usage: .venv/bin/python tools/test_compat.py .venv-bpy-4.2.23 .venv-bpy-4.5.15 ...

Each environment holds one ``bpy`` wheel (and pytest, pillow) but no TensorFlow: the panel's
training and preview workers run in this script's Python (the main .venv), named to the tests
by BLENDERCNN_TEST_TENSORFLOW_PYTHON — as a user's Blender runs them in a separate TensorFlow
Python. Each run gets a fresh HOME and temporary folder. Prints one result line per Blender
version, then exits non-zero if any failed (their last output lines are shown).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TF_PYTHON_ENV = "BLENDERCNN_TEST_TENSORFLOW_PYTHON"
SUMMARY = re.compile(r"^=*\s*(\d+ (passed|failed|errors?)\b.*?) in [\d.]+s")  # pytest's closing line


def blender_version(python: str) -> str:
    """'4.2.23 LTS (Python 3.11.7)' of the bpy in that environment."""
    code = "import sys, bpy; print(bpy.app.version_string, '(Python %d.%d.%d)' % sys.version_info[:3])"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300)
    lines = done.stdout.strip().splitlines()
    return lines[-1] if done.returncode == 0 and lines else f"bpy does not import: {done.stderr.strip()[-200:]}"


def run_one(venv: str) -> tuple[bool, str, str]:
    """(passed, result line, output tail) of the compat tests in ``venv``."""
    python = os.path.join(ROOT, venv, "bin", "python")
    version = blender_version(python)
    with tempfile.TemporaryDirectory(prefix="blendercnn-compat-") as home:
        env = {**os.environ, "HOME": home, "TMPDIR": home, TF_PYTHON_ENV: sys.executable}
        began = time.monotonic()
        done = subprocess.run([python, "-m", "pytest", "-m", "compat", "-q", "-p", "no:cacheprovider", "tests"],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.monotonic() - began
    output = done.stdout + done.stderr
    summary = next((m.group(1) for line in reversed(output.splitlines()) if (m := SUMMARY.match(line.strip()))),
                   f"pytest exit code {done.returncode}")
    passed = done.returncode == 0
    line = f"{'PASS' if passed else 'FAIL'}  Blender {version}: {summary} in {seconds:.0f} s"
    return passed, line, "\n".join(output.splitlines()[-40:])


def main(venvs: list[str]) -> int:
    if not venvs:
        print("usage: tools/test_compat.py VENV [VENV ...]", file=sys.stderr)
        return 2
    results = []
    for venv in venvs:
        passed, line, tail = run_one(venv)
        print(line, flush=True)
        results.append((passed, line, tail))
    failed = [(line, tail) for passed, line, tail in results if not passed]
    for line, tail in failed:
        print(f"\n--- {line}\n{tail}", file=sys.stderr)
    print(f"test-compat: {len(results) - len(failed)} of {len(results)} Blender versions passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
