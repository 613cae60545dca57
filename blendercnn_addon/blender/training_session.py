"""Training and TensorBoard as background sessions: the state machines the Train panel shows.

TensorFlow never loads in Blender's process: Train starts
``python -m blendercnn_addon train --progress json`` with the TensorFlow Python
(preferences.tensorflow_python) and :class:`TrainingSession` follows its JSON progress
lines (protocol.py) through background.poll(), writing ``window_manager.blendercnn_training``.
The operators (operators/train_ops.py) only start and stop these sessions.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
import webbrowser

import bpy

from . import background, status_bar
from .. import view_lut
from ..architectures import ARCHITECTURES, GENERAL
from .background import crash_message, log_path
from ..dataset_format import METADATA_NAME, DatasetFolder
from ..errors import UserError
from ..run_folder import MODEL_NAME, resumable, run_files
from .images import TRAINING_IMAGE, write_image
from .paths import resolve_output_dir, user_folder
from .preferences import tensorflow_python
from ..training_curve import curve_pixels
from ..processes.workers import Worker, addon_command

STOP_GRACE_SECONDS = 30.0  # after Cancel: time to finish the batch and save, before terminate
KILL_GRACE_SECONDS = 5.0


def _status(context=None):
    return (context or bpy.context).window_manager.blendercnn_training


def new_run_dir() -> str:
    """A fresh dated run folder in the add-on's user folder."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return user_folder("runs", f"run-{stamp}")


class TrainingSession(background.Session):
    """Follows one training subprocess; writes ``window_manager.blendercnn_training``."""

    kind = "train"

    def __init__(self, worker: Worker, run_dir: str, scene_name: str):
        super().__init__(worker)
        self.run_dir = run_dir
        self.scene_name = scene_name
        self.stop_sent_at: float | None = None
        self.start_message: dict | None = None
        self.result: dict | None = None
        self.error_message = ""
        self.curve: dict[int, tuple[float | None, float | None]] = {}  # epoch -> (val PSNR dB, val loss)

    def on_message(self, message: dict) -> None:
        status = _status()
        event = message.get("event")
        if event == "start":
            self.start_message = message
            status.device = message.get("device", "")
            status.epochs = message.get("epochs", 0)
            status.epoch = message.get("initial_epoch", 0)
            status.batches = message.get("batches", 0)
            status.message = (f"{message.get('train_samples')} train · {message.get('validation_samples')} "
                              f"validation · {status.device}")
        elif event == "waiting":
            status.message = f"Waiting for images · {message.get('images', 0)}/{message.get('needed', 0)}"
        elif event == "batch":
            status.epoch, status.batch = message["epoch"], message["batch"]
            status.batches = message["batches"]
            status.loss = _number(message.get("loss"))
            status.elapsed_s = time.monotonic() - self.worker.started
            status_bar.update("train", status.epoch_fraction)
        elif event == "epoch":
            status.epoch, status.epochs = message["epoch"], message["epochs"]
            for name in ("loss", "val_loss", "val_psnr", "elapsed_s", "eta_s"):
                setattr(status, name, _number(message.get(name)))
            status.eta_until = str(message.get("until") or ("plateau" if message.get("until_plateau") else "epochs"))
            status.best_val_psnr = max(status.best_val_psnr, status.val_psnr)
            if self.start_message and self.start_message.get("growing"):  # train as it renders
                images = (message.get("train_samples") or 0) + (message.get("validation_samples") or 0)
                status.message = (f"{images:,} images so far · still rendering" if message.get("growing")
                                  else f"All {images:,} images rendered")
            self.curve[message["epoch"]] = (message.get("val_psnr"), message.get("val_loss"))
            draw_training_curve(self.curve)
        elif event == "done":
            self.result = message
        elif event == "error":
            self.error_message = message.get("message", "unknown error")

    def on_tick(self) -> None:
        if self.stop_sent_at is None:
            return
        waited = time.monotonic() - self.stop_sent_at
        if waited > STOP_GRACE_SECONDS + KILL_GRACE_SECONDS:
            self.worker.kill()
        elif waited > STOP_GRACE_SECONDS:
            self.worker.terminate()

    def request_stop(self) -> None:
        """Ask the trainer to stop after the current batch; it is terminated if it has not after the grace."""
        if self.stop_sent_at is None:
            self.stop_sent_at = time.monotonic()
            self.worker.send({"command": "stop"})
        _status().stopping = True

    def on_exit(self, exit_code: int) -> None:
        status = _status()
        status.running = status.stopping = False
        status.eta_s, status.eta_until = -1.0, "epochs"
        status_bar.end("train")
        model = os.path.join(self.run_dir, MODEL_NAME)
        if self.result is not None:
            state = ("Cancelled" if self.result.get("cancelled") else
                     "Stopped early" if self.result.get("stopped_early") else "Finished")
            psnr = self.result.get("best_val_psnr")
            status.message = f"{state} · " + (f"best {psnr:.2f} dB · {self.result.get('epochs_done')} epochs"
                                              if psnr is not None else "no epoch completed")
        elif self.error_message:
            status.error = self.error_message
            status.message = ""
        elif self.stop_sent_at is not None:
            status.message = "Cancelled (terminated); the best checkpoint is kept" if os.path.exists(model) else \
                "Cancelled before the first epoch ended"
        else:
            status.error, status.log_tail = crash_message("Training", self.worker, exit_code)
            print(f"BlenderCNN: {status.error}\n{status.log_tail}")
        scene = bpy.data.scenes.get(self.scene_name)
        if os.path.exists(model) and scene is not None:
            scene.blendercnn.preview_model = self.run_dir  # Preview offers the model just trained


def draw_training_curve(curve: dict[int, tuple[float | None, float | None]]) -> None:
    """``BlenderCNN Training``: validation PSNR (and loss) of epochs 1 … the latest, redrawn each epoch.
    The image records the epochs drawn (``epochs``) and their PSNRs (``val_psnr``, -1 where unknown)."""
    last = max(curve)
    psnrs = [curve.get(epoch, (None, None))[0] for epoch in range(1, last + 1)]
    losses = [curve.get(epoch, (None, None))[1] for epoch in range(1, last + 1)]
    image = write_image(TRAINING_IMAGE, curve_pixels(psnrs, losses))
    image["epochs"] = len(curve)
    image["val_psnr"] = [-1.0 if p is None else float(p) for p in psnrs]
    for window in bpy.context.window_manager.windows if bpy.context.window_manager else ():
        for area in window.screen.areas:
            if area.type == "IMAGE_EDITOR" and area.spaces.active.image == image:
                area.tag_redraw()


def _number(value) -> float:
    return -1.0 if value is None else float(value)


def architecture_for(props, data: str, follow: bool) -> str:
    """The Train panel's architecture, unless it models the ball room (its five, the ball's height and size) and the
    dataset's are others: then the general one (architectures.GENERAL). The layout is the dataset
    card's, or for a dataset Generate is writing now (``follow``) the Parameters list's."""
    chosen = ARCHITECTURES[props.architecture]
    if not chosen.needs_ball_room:
        return chosen.name
    try:
        card = None if follow else DatasetFolder(data).read_card()
        layout = card.identity.layout if card is not None else (props.layout() if follow else None)
        target = card.identity.object if card is not None else props.target_names().object_name
    except UserError:
        return chosen.name  # an unreadable card: train says so
    return GENERAL if layout is not None and not layout.models_ball_room(target) else chosen.name


def _train_argv(python: str, props, data: str, run_dir: str, resume: bool, follow: bool = False,
                arch: str | None = None) -> list[str]:
    args = ["train", "--data", data, "--out", run_dir, "--progress", "json", *(["--follow"] if follow else []),
            *(["--time-budget", repr(props.time_budget_minutes * 60.0)] if props.time_budget_minutes > 0 else [])]
    if resume:
        return addon_command(python, *args, "--resume", "--epochs", str(props.epochs))
    recipe = [] if props.recipe_auto else ["--batch-size", str(props.batch_size),
                                           "--learning-rate", repr(props.learning_rate)]
    return addon_command(
        python, *args, "--arch", arch or props.architecture, "--epochs", str(props.epochs), *recipe,
        "--seed", str(props.train_seed), "--split-seed", str(props.train_seed), "--patience", str(props.patience))


def training_data_dir(props) -> str:
    """The Train panel's Data folder, else the Dataset panel's output folder."""
    return os.path.abspath(bpy.path.abspath(props.train_data_dir)) if props.train_data_dir.strip() \
        else resolve_output_dir(props.output_dir)


def resumable_run(context) -> str:
    """The run folder Resume would continue: the Run field, else the last run; '' if none can resume."""
    props = context.scene.blendercnn
    run = bpy.path.abspath(props.run_dir) if props.run_dir.strip() else _status(context).run_dir
    return run if resumable(run) else ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TensorBoardSession(background.Session):
    """A TensorBoard server on localhost; the URL is shown (and opened) once it answers."""

    kind = "tensorboard"

    def __init__(self, worker: Worker, port: int, open_browser: bool):
        super().__init__(worker)
        self.port = port
        self.open_browser = open_browser
        self.ready = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def on_tick(self) -> None:
        if self.ready:
            return
        with socket.socket() as probe:
            probe.settimeout(0.02)
            if probe.connect_ex(("127.0.0.1", self.port)) != 0:
                return
        self.ready = True
        _status().tensorboard_url = self.url
        if self.open_browser:
            webbrowser.open(self.url)
        return True

    def on_exit(self, exit_code: int) -> None:
        status = _status()
        status.tensorboard_url = ""
        if exit_code not in (0, -15):  # -15: stopped by us (SIGTERM)
            status.error, status.log_tail = crash_message("TensorBoard", self.worker, exit_code)


def _check_folders(data: str, run_dir: str, arch: str, resume: bool, follow: bool) -> None:
    """The cheap checks, so the common mistakes answer at once instead of after TensorFlow loads.
    ``follow``: generate is writing the dataset now (its first images and tables are still to come)."""
    if not follow and not os.path.isfile(os.path.join(data, METADATA_NAME)):
        raise UserError(f"no dataset in {data} ({METADATA_NAME} missing): generate one or choose its folder")
    if not resume and run_files(run_dir):
        raise UserError(f"run folder {run_dir} is not empty: clear the Run field for a new one, or Resume")
    record = ARCHITECTURES[arch]
    if not resume and not follow and record.needs_view_table and not view_lut.present(data):
        raise UserError(f"{data} has no baked view transform ({view_lut.LUT_FILE}), which the {record.label} "
                        "architecture needs: choose Architecture Seed, or run Generate Dataset on that folder "
                        "again to add it")


def start_training(context, resume: bool, follow_data: str = "") -> str:
    """Start the training worker for the Train panel's settings; returns the run folder.
    ``follow_data``: train as it renders, on this folder that Generate Dataset is writing now
    (train --follow). UserError (nothing started) for a missing TensorFlow Python, dataset or
    resumable run."""
    props = context.scene.blendercnn
    python = tensorflow_python(context)
    data = follow_data or training_data_dir(props)
    if resume:
        run_dir = resumable_run(context)
        if not run_dir:
            raise UserError("nothing to resume: the run folder has no finished epoch")
    else:
        run_dir = os.path.abspath(bpy.path.abspath(props.run_dir)) if props.run_dir.strip() else new_run_dir()
    arch = architecture_for(props, data, bool(follow_data))
    _check_folders(data, run_dir, arch, resume, follow=bool(follow_data))
    worker = Worker(_train_argv(python, props, data, run_dir, resume, follow=bool(follow_data), arch=arch),
                    log_path=log_path("train"))
    status = _status(context)
    for name in ("epoch", "batch", "batches"):
        setattr(status, name, 0)
    for name in ("loss", "val_loss", "val_psnr", "best_val_psnr", "elapsed_s", "eta_s"):
        setattr(status, name, -1.0)
    status.running, status.stopping = True, False
    status.error = status.log_tail = status.device = ""
    status.run_dir = run_dir
    status.epochs = props.epochs
    chose = "" if arch == props.architecture else \
        f"; {ARCHITECTURES[arch].label}: the dataset's parameters are not the ball room's five"
    status.message = f"Starting TensorFlow ({python}){chose}"
    background.start(TrainingSession(worker, run_dir, context.scene.name))
    return run_dir


def open_tensorboard(context, open_browser: bool) -> str:
    """Start TensorBoard on the run's logs (127.0.0.1 only), or reuse the running one; returns its URL."""
    session = background.get("tensorboard")
    if session is not None:
        if open_browser:
            webbrowser.open(session.url)
        return session.url
    props = context.scene.blendercnn
    run = bpy.path.abspath(props.run_dir) if props.run_dir.strip() else _status(context).run_dir
    logs = os.path.join(run, "logs")
    python = tensorflow_python(context)
    if not os.path.isdir(logs):
        raise UserError(f"no TensorBoard logs in {run} yet: they appear once training has started")
    port = _free_port()
    worker = Worker([python, "-m", "tensorboard.main", "--logdir", logs, "--host", "127.0.0.1",
                     "--port", str(port)], log_path=log_path("tensorboard"))
    background.start(TensorBoardSession(worker, port, open_browser))
    return f"http://127.0.0.1:{port}/"
