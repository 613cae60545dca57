"""A Python that keeps TensorFlow loaded and runs ``python -m blendercnn_addon`` commands for the tests.

Importing TensorFlow takes ≈ 3 s of a 2-core machine; the tests run about fifty train, evaluate,
predict and invert commands. conftest.run_cli sends each here instead of starting a new
interpreter: one JSON line {"argv": [...]} on stdin, one JSON line back on stdout, {"code": exit
code, "stdout": ..., "stderr": ...}, with what the command wrote to file descriptor 2 (TensorFlow's
own lines) in "stderr" too, as a finished process's output would hold it. The same ``main(argv)``
runs as ``python -m blendercnn_addon`` runs; Keras's session is cleared after each command. The
test process itself never imports TensorFlow (the add-on promises Blender's process never does).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile


def run(argv: list[str]) -> dict:
    from blendercnn_addon.cli import main

    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryFile() as native:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(native.fileno(), 2)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        native.seek(0)
        native_text = native.read().decode("utf-8", "replace")
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()  # layer names and graphs start fresh, as in a new process
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue() + native_text}


def serve() -> None:
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")  # the replies' own channel ...
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 1)  # ... that nothing a command writes to file descriptor 1 can reach
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository's package
    from blendercnn_addon.ml.tensorflow_import import import_tensorflow_quietly

    import_tensorflow_quietly()
    replies.write(json.dumps({"ready": True}) + "\n")
    replies.flush()
    for line in sys.stdin:
        replies.write(json.dumps(run(json.loads(line)["argv"])) + "\n")
        replies.flush()


if __name__ == "__main__":
    serve()
