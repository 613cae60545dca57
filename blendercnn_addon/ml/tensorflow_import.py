"""Import TensorFlow without its start-up chatter on stderr. No bpy.

TensorFlow 2.21 writes a few lines while it is imported ("All log messages before
absl::InitializeLog() is called are written to STDERR", a oneDNN note) through absl before
absl is set up, so TF_CPP_MIN_LOG_LEVEL does not reach them. The command line promises one
readable line for an error, and the panel shows a worker's last lines when it fails: the
import therefore runs with file descriptor 2 pointed at a temporary file, whose text is
shown only when the import itself fails.
"""

from __future__ import annotations

import os
import sys
import tempfile


# TensorFlow's settings for the project's processes (a value the user set in the environment wins):
# - TF_CPU_ALLOCATOR_USE_BFC: TensorFlow's pooled best-fit allocator for CPU tensors. On CPUs where
#   TensorFlow does not turn on oneDNN (no AVX-512 VNNI/BF16/AMX: AVX2 laptops, many AMD servers),
#   every large tensor otherwise comes from glibc's malloc, which maps and unmaps it each step: at
#   256² half of training went to the kernel (page faults). benchmarks/epoch_cost.py, oneDNN off,
#   the team's 2-core Intel Xeon, two runs: a step 0.46 s -> 0.26-0.28 s, the epoch 1.8-2.0x
#   shorter, system CPU 24 s -> 3 s, page faults 13 M -> 0.9 M; with oneDNN on (it pools already)
#   no change beyond noise (epoch 0.95-1.03x).
TENSORFLOW_SETTINGS = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_CPU_ALLOCATOR_USE_BFC": "true"}


def apply_tensorflow_settings() -> None:
    """Put TENSORFLOW_SETTINGS into os.environ where unset; TensorFlow reads them when it starts,
    so this runs before it is imported (every project process that runs TensorFlow imports it
    through import_tensorflow_quietly, the panel's workers included)."""
    for name, value in TENSORFLOW_SETTINGS.items():
        os.environ.setdefault(name, value)


def import_tensorflow_quietly():
    """Import tensorflow and keras (once per process); returns the tensorflow module."""
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        return sys.modules["tensorflow"]
    apply_tensorflow_settings()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import keras  # noqa: F401  (imports tensorflow as its backend)
            import tensorflow
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode("utf-8", errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tensorflow
