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


def import_tensorflow_quietly():
    """Import tensorflow and keras (once per process); returns the tensorflow module."""
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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
