"""``train``: a model on a dataset folder, in this Python (TensorFlow; no Blender)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ..architectures import ARCHITECTURES, AUTO, PREFERRED
from ..errors import UserError
from .arguments import folder_argument, quiet_tensorflow


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
                         + f"; {AUTO}: {PREFERRED} when the dataset has its baked view transform, as every dataset "
                         "this tool makes has, else seed (default %(default)s)")
    tr.add_argument("--epochs", type=int, default=50, help="maximum epochs (default 50; early stopping may end sooner)")
    tr.add_argument("--batch-size", type=int, help="default: the architecture's recipe ("
                    + ", ".join(f"{a.name} {a.batch_size_text()}" for a in ARCHITECTURES.values()) + ")")
    tr.add_argument("--learning-rate", type=float, help="Adam's initial rate (default: the architecture's recipe, "
                    + ", ".join(f"{a.name} {a.learning_rate:g}" for a in ARCHITECTURES.values()) + ")")
    tr.add_argument("--validation-fraction", type=float, default=0.1, help="held-out share (default 0.1)")
    tr.add_argument("--split-seed", type=int, default=0, help="seed of the train/validation shuffle (default 0)")
    tr.add_argument("--seed", type=int, default=0, help="seed of weights and batch order (default 0)")
    tr.add_argument("--patience", type=int, default=5, help="early-stopping patience in epochs (default 5)")
    tr.add_argument("--time-budget", type=float, default=0.0, metavar="SECONDS",
                    help="stop after the first epoch that ends past this much training time (default 0: no limit)")
    tr.add_argument("--resume", action="store_true", help="continue the run in RUN from its last epoch")
    tr.add_argument("--follow", action="store_true",
                    help="train as it renders: start while generate is still writing DIR (once "
                         "32 images exist), each epoch on the images finished so far, the "
                         "validation split by a fixed rule on the sample index; once generate has ended, "
                         "go on over all of them with early stopping as usual")
    tr.add_argument("--follow-wait", type=float, default=60.0, metavar="SECONDS",
                    help="--follow on a folder where generate has not begun yet: how long to wait for it to "
                         "start writing (default 60)")
    tr.add_argument("--progress", choices=("bar", "json"), default="bar",
                    help="bar: a terminal progress bar; json: protocol lines on stdout, stop via stdin")
    tr.set_defaults(handler=train)


def train(args: argparse.Namespace) -> int:
    data, out = folder_argument(args.data, "--data"), folder_argument(args.out)
    quiet_tensorflow()
    from ..ml.train import TerminalReport, TrainConfig, train

    config = TrainConfig(data=data, out=out, arch=args.arch, epochs=args.epochs, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, validation_fraction=args.validation_fraction,
                         split_seed=args.split_seed,
                         seed=args.seed, early_stopping_patience=args.patience, time_budget_s=args.time_budget,
                         resume=args.resume, follow=args.follow, follow_start_wait_s=args.follow_wait)
    stop = threading.Event()
    if args.progress == "json":
        from ..processes.protocol import JsonLinesWriter, watch_for_stop
        from ..processes.workers import exit_with_parent

        exit_with_parent()
        report = JsonLinesWriter()
        watch_for_stop(sys.stdin, stop.set)
    else:
        report = TerminalReport()

    def first_interrupt(signum, frame):  # the first Ctrl-C stops cleanly, a second one the hard way
        sys.stderr.write("\nstopping after this batch (Ctrl-C again to abort)\n")
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, first_interrupt)
    try:
        result = train(config, report, stop)
    except UserError as err:
        if args.progress == "json":
            report("error", message=str(err))
        raise
    if args.progress == "bar":
        state = "cancelled" if result["cancelled"] else "stopped early" if result["stopped_early"] else "finished"
        psnr = result["best_val_psnr"]
        print(f"training {state}: best model {result['model']} "
              f"(val PSNR {psnr:.2f} dB)" if psnr is not None else f"training {state}: no epoch completed")
    return 0
