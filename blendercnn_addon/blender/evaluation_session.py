"""Evaluate (the Preview panel's button): ``python -m blendercnn_addon evaluate`` on the model's held-out
samples in a TensorFlow worker; its metrics line and grid (``BlenderCNN Evaluation``) when it ends."""

from __future__ import annotations

from . import background
from .background import crash_message, log_path
from ..errors import UserError
from .images import EVALUATION_IMAGE, load_png, show_in_image_editors
from .preferences import tensorflow_python
from .preview_session import model_dir, preview_status
from ..processes.workers import Worker, addon_command
from ..run_config import read_run_config
from ..run_folder import read_metrics
from .training_session import training_data_dir


class EvaluationSession(background.Session):
    """One ``python -m blendercnn_addon evaluate`` run; loads its grid as ``BlenderCNN Evaluation``."""

    kind = "evaluate"

    def __init__(self, worker: Worker, run: str):
        super().__init__(worker)
        self.run = run

    def on_exit(self, exit_code: int) -> None:
        status = preview_status()
        status.evaluating = False
        if exit_code != 0:
            status.evaluation, _tail = crash_message("Evaluation", self.worker, exit_code)
            return
        metrics = read_metrics(self.run)
        status.evaluation = metrics.summary()
        show_in_image_editors(load_png(EVALUATION_IMAGE, metrics.grid))


def start_evaluation(context) -> None:
    """Evaluate the Preview panel's model on its held-out samples in a TensorFlow worker."""
    run = model_dir(context)
    if not run:
        raise UserError("choose a trained run folder first (Model)")
    config = read_run_config(run)
    data = config.data or training_data_dir(context.scene.blendercnn)
    python = tensorflow_python(context)
    worker = Worker(addon_command(python, "evaluate", "--data", data, "--model", run), log_path=log_path("evaluate"))
    status = preview_status(context)
    status.evaluating, status.evaluation = True, "Evaluating…"
    background.start(EvaluationSession(worker, run))
