"""``train``: a model on a dataset folder, in this Python (TensorFlow; no Blender)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from ..architectures import ARCHITECTURES, AUTO, GENERAL, PREFERRED
from ..errors import UserError
from ..run_config import FOLLOW_START_WAIT_S, TrainingRecipe, TrainRequest
from .arguments import folder_argument, quiet_tensorflow

DEFAULTS = TrainingRecipe()  # one set of defaults: the recipe's


def add_commands(commands) -> None:
    """train."""
    tr = commands.add_parser(
        "train", help="train a model on a dataset (needs TensorFlow; no Blender)",
        description="Train a vector -> image Keras model (Adam, MSE) on a dataset folder into a run folder: "
                    "model.keras (best), last.keras, config.json, history.json, TensorBoard logs/. "
                    "Ctrl-C stops after the current batch and keeps the best model; --resume continues.")
    tr.add_argument("--data", required=True, metavar="DIR", help="dataset folder (ours or the seed's layout)")
    tr.add_argument("--out", required=True, metavar="RUN", help="run folder (new, or an old one with --resume)")
    tr.add_argument("--arch", default=AUTO, choices=(*ARCHITECTURES, AUTO),
                    help="architecture: " + "; ".join(f"{a.name}: {a.description}" for a in ARCHITECTURES.values())
                         + f"; {AUTO}: {GENERAL} for parameters other than the ball room's five (with, perhaps, the "
                         f"ball's height and size), else {PREFERRED} when the dataset has its baked view transform, "
                         "as every dataset this tool makes has, else seed (default %(default)s)")
    tr.add_argument("--epochs", type=int, default=DEFAULTS.epochs,
                    help="maximum epochs (default %(default)s; early stopping may end sooner)")
    tr.add_argument("--batch-size", type=int, help="default: the architecture's recipe ("
                    + ", ".join(f"{a.name} {a.batch_size_text()}" for a in ARCHITECTURES.values()) + ")")
    tr.add_argument("--learning-rate", type=float, help="Adam's initial rate (default: the architecture's recipe, "
                    + ", ".join(f"{a.name} {a.learning_rate:g}" for a in ARCHITECTURES.values()) + ")")
    tr.add_argument("--validation-fraction", type=float, default=DEFAULTS.validation_fraction,
                    help="held-out share (default %(default)s)")
    tr.add_argument("--split-seed", type=int, default=DEFAULTS.split_seed,
                    help="seed of the train/validation shuffle (default %(default)s)")
    tr.add_argument("--seed", type=int, default=DEFAULTS.seed, help="seed of weights and batch order (default %(default)s)")
    tr.add_argument("--patience", type=int, default=DEFAULTS.early_stopping_patience,
                    help="early-stopping patience in epochs (default %(default)s)")
    tr.add_argument("--time-budget", type=float, default=DEFAULTS.time_budget_s, metavar="SECONDS",
                    help="stop at the batch that spends this much training time, mid-epoch if need be (what was "
                         "trained is validated and kept if best; default 0: no limit)")
    tr.add_argument("--weight-averaging", type=float, default=DEFAULTS.weight_averaging, metavar="MOMENTUM",
                    help="validate and save a moving average of the weights with this momentum per step "
                         "(a steadier curve; default %(default)s, 0: the last step's weights)")
    tr.add_argument("--tile-fraction", type=int, metavar="N",
                    help="1: every step's loss looks at whole images; N: at one (R/N)² tile of each image, the "
                         "rest of the model's work skipped (validation and the saved model stay whole-image; "
                         "radiance only; measured in docs/benchmarks.md). Default: 1")
    tr.add_argument("--width", type=int, metavar="N",
                    help="the model's channels per layer as a multiple of the narrowest (radiance only: 2 is "
                         "twice as wide, slower per image, better at 256²). Default: radiance's recipe, 2 from "
                         "256², else 1")
    tr.add_argument("--resume", action="store_true", help="continue the run in RUN from its last epoch")
    tr.add_argument("--follow", action="store_true",
                    help="train as it renders: start while generate is still writing DIR (once "
                         "32 images exist), each epoch on the images finished so far, the "
                         "validation split by a fixed rule on the sample index; once generate has ended, "
                         "go on over all of them with early stopping as usual")
    tr.add_argument("--follow-wait", type=float, default=FOLLOW_START_WAIT_S, metavar="SECONDS",
                    help="--follow on a folder where generate has not begun yet: how long to wait for it to "
                         "start writing (default %(default)s)")
    tr.add_argument("--progress", choices=("bar", "json"), default="bar",
                    help="bar: a terminal progress bar; json: protocol lines on stdout, stop via stdin")
    tr.set_defaults(handler=train)


def request_from_args(args: argparse.Namespace) -> TrainRequest:
    recipe = TrainingRecipe(arch=args.arch, epochs=args.epochs, batch_size=args.batch_size,
                            learning_rate=args.learning_rate, validation_fraction=args.validation_fraction,
                            split_seed=args.split_seed, seed=args.seed, early_stopping_patience=args.patience,
                            time_budget_s=args.time_budget, weight_averaging=args.weight_averaging,
                            tile_fraction=args.tile_fraction, width=args.width)
    return TrainRequest(data=folder_argument(args.data, "--data"), out=folder_argument(args.out), recipe=recipe,
                        resume=args.resume, follow=args.follow, follow_start_wait_s=args.follow_wait)


def train(args: argparse.Namespace) -> int:
    request = request_from_args(args)
    quiet_tensorflow()
    from ..ml.train import train as train_model

    stop = threading.Event()
    if args.progress == "json":
        from ..processes.protocol import JsonLinesWriter, watch_for_stop
        from ..processes.workers import exit_with_parent

        exit_with_parent()
        report = JsonLinesWriter()
        watch_for_stop(sys.stdin, stop.set)
    else:
        report = TerminalReport()

    def first_interrupt(signum, frame):  # the first Ctrl-C (or SIGTERM) stops cleanly, a second Ctrl-C at once
        if not stop.is_set():
            sys.stderr.write("\nstopping after this batch (Ctrl-C again to abort)\n")
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    # SIGTERM as Ctrl-C: a scheduler or kill stops after the batch, with the best model and last.keras saved
    previous = {sig: signal.signal(sig, first_interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = train_model(request, report, stop)
    except UserError as err:
        if args.progress == "json":
            report("error", message=str(err))
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.progress == "bar":
        state = "cancelled" if result["cancelled"] else "stopped early" if result["stopped_early"] else "finished"
        psnr = result["best_val_psnr"]
        print(f"training {state}: best model {result['model']} "
              f"(val PSNR {psnr:.2f} dB)" if psnr is not None else f"training {state}: no epoch completed")
    return 0


class TerminalReport:
    """Progress bar on stderr for ``python -m blendercnn_addon train``."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self._last = 0.0

    def __call__(self, event: str, **f) -> None:
        if event == "start":
            self.stream.write(f"training on {f['device']}: {f['train_samples']} train / "
                              f"{f['validation_samples']} validation samples, {f['batches']} batches per epoch\n")
        elif event == "batch" and self.interactive and time.monotonic() - self._last > 0.2:
            self._last = time.monotonic()
            filled = int(20 * f["batch"] / f["batches"])
            self.stream.write(f"\r\033[Kepoch {f['epoch']} [{'#' * filled}{'.' * (20 - filled)}] "
                              f"{f['batch']}/{f['batches']} loss {f['loss']:.5f}")
        elif event == "epoch":
            self.stream.write(("\r\033[K" if self.interactive else "") +
                              f"epoch {f['epoch']}/{f['epochs']}  loss {f['loss']:.5f}  val_loss "
                              f"{f['val_loss']:.5f}  val_psnr {f['val_psnr']:.2f} dB  lr {f['lr']:.2g}  "
                              f"ETA {f['eta_s']:.0f} s{eta_reason(f)}\n")
        self.stream.flush()


def eta_reason(epoch_event: dict) -> str:
    """' (plateau)' or ' (budget)' when that, not the last epoch, ends the run first ('' otherwise)."""
    until = epoch_event.get("until") or ("plateau" if epoch_event.get("until_plateau") else "epochs")
    return "" if until == "epochs" else f" ({until})"
