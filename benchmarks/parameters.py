"""Any parameters: the architecture chosen for a list of the user's against the seed's, on the demonstration scenes.

For each demonstration scene (demo_scenes.py: turntable, orbit, ball_plus), side by side in one run:
- --count Default renders at --resolution (dataset seed 0) of the scene's own parameters, and
  40 clean references (Reference preset, dataset seed 2024: vectors never rendered for training);
- the architecture ``train`` chooses for the scene's list (auto: field for any list but the ball
  room's five) and ``seed`` (the baseline, N inputs), each trained for the same wall time
  (--minutes, as ``train --time-budget``), its best-validation model then drawing the references'
  vectors, scored against them (PSNR, dB, peak 1).

Then the chosen model estimates every reference picture's vector (``invert``, over all the scene's
parameters); the error of each parameter is |estimate - truth| / its range.

Prints one ``name: value`` line per figure: psnr_db_<scene> (the chosen architecture),
psnr_seed_db_<scene>, psnr_gain_over_seed_db_<scene>, epochs_<arch>_<scene>,
render_seconds_<scene>, inversion_error_of_range_<scene> (the largest of the parameters' median
errors) and inversion_median_<parameter>_<scene>; then ball_room_change_db: the ball room made
through the parameters' machinery (``--param default``) against its own path, radiance trained on
each (300 renders, 3 epochs, seed 0), with ball_room_images_equal (1: pixel for pixel). Datasets and references are kept in --work and
reused by the next run; with --reuse-runs, so are trained models (only the scores are measured).

--preset renders the training set with another preset (e.g. seed, the one the panel recommends at
64², recommendation.TRAINING_PRESETS): its runs go in their own --work folder.

Usage: python benchmarks/parameters.py [--work DIR] [--count 1000] [--minutes 10] [--resolution 64]
       [--scenes turntable,orbit,ball_plus] [--reuse-runs] [--preset default]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from time_to_quality import REFERENCE_SEED, cli  # noqa: E402

from blendercnn_addon.metrics import psnr  # noqa: E402

REFERENCES = 40
SCENES = ("turntable", "orbit", "ball_plus")


def rendered(work: str, scene: str, name: str, args, *extra: str) -> tuple[str, float]:
    """WORK/<scene>_<name>: the scene's dataset, rendered unless a finished one is there; (folder, seconds)."""
    folder = os.path.join(work, f"{scene}_{name}")
    card = os.path.join(folder, "dataset.json")
    if os.path.exists(card) and json.load(open(card)).get("complete"):
        return folder, 0.0
    seconds = cli("generate", "--out", folder, "--demo-scene", scene, "--resolution", str(args.resolution),
                  "--quiet", *extra)
    return folder, seconds


def train_and_score(data: str, run: str, arch: str, minutes: float, refs, reuse: bool) -> tuple[float, int]:
    """(PSNR against the references, epochs) of ``arch`` trained on ``data`` for ``minutes``
    (``reuse``: the model already in ``run``)."""
    from blendercnn_addon.ml.inference import load_run, predict
    from blendercnn_addon.ml.train import train
    from blendercnn_addon.run_config import TrainingRecipe, TrainRequest

    if not (reuse and os.path.exists(os.path.join(run, "model.keras"))):
        shutil.rmtree(run, ignore_errors=True)
        train(TrainRequest(data, run, TrainingRecipe(arch=arch, epochs=10_000, time_budget_s=minutes * 60)),
              lambda event, **fields: None)
    epochs = len(json.load(open(os.path.join(run, "history.json"))))
    vectors, clean = refs
    generated = np.clip(predict(load_run(run), vectors, batch_size=8), 0.0, 1.0)
    return psnr(clean, generated), epochs


def inversion_errors(run: str, refs) -> dict[str, float]:
    """{parameter: median |estimate - truth| / range} over the references' pictures, the model ``run``'s."""
    from blendercnn_addon.ml.inference import load_run
    from blendercnn_addon.ml.invert import invert

    trained = load_run(run)
    low, high = np.array(trained.config.vector_min), np.array(trained.config.vector_max)
    vectors, clean = refs
    errors = np.array([np.abs(invert(trained, picture).vector - truth) / np.maximum(high - low, 1e-9)
                       for truth, picture in zip(vectors, clean)])
    return {name: float(np.median(errors[:, i])) for i, name in enumerate(trained.config.layout.names)}


def references(folder: str):
    from blendercnn_addon.ml.dataset import cached_images, read_index

    index = read_index(folder)
    return index.vectors, cached_images(index).astype(np.float32) / 255.0


def measure_scene(work: str, scene: str, args) -> None:
    data, seconds = rendered(work, scene, f"train_{args.count}{'' if args.preset == 'default' else '_' + args.preset}",
                             args, "--count", str(args.count), "--preset", args.preset, "--seed", "0")
    refs_folder, _ = rendered(work, scene, f"references_{REFERENCES}", args, "--count", str(REFERENCES),
                              "--preset", "reference", "--seed", str(REFERENCE_SEED))
    print(f"render_seconds_{scene}: {seconds:.0f}{' (reused)' if not seconds else ''}", flush=True)
    refs = references(refs_folder)
    scores = {}
    for arch in ("auto", "seed"):
        scores[arch], epochs = train_and_score(data, os.path.join(work, f"{scene}_run_{arch}"), arch, args.minutes,
                                               refs, args.reuse_runs)
        chosen = json.load(open(os.path.join(work, f"{scene}_run_{arch}", "config.json")))["arch"]
        print(f"epochs_{chosen}_{scene}: {epochs}", flush=True)
    print(f"psnr_db_{scene}: {scores['auto']:.2f}", flush=True)
    print(f"psnr_seed_db_{scene}: {scores['seed']:.2f}", flush=True)
    print(f"psnr_gain_over_seed_db_{scene}: {scores['auto'] - scores['seed']:.2f}", flush=True)
    errors = inversion_errors(os.path.join(work, f"{scene}_run_auto"), refs)
    for name, error in errors.items():
        print(f"inversion_median_{name}_{scene}: {error:.4f}", flush=True)
    print(f"inversion_error_of_range_{scene}: {max(errors.values()):.4f}", flush=True)


def ball_room_change(work: str, args) -> None:
    """The ball room through the parameters' machinery (``--param default``) against its own path, side by
    side: the same renders (compared pixel for pixel) and radiance trained on each for 3 epochs, seed 0."""
    from blendercnn_addon.ml.dataset import cached_images, read_index
    from blendercnn_addon.ml.train import train
    from blendercnn_addon.run_config import TrainingRecipe, TrainRequest

    scores, images = {}, {}
    for name, extra in (("own", ()), ("param", ("--param", "default"))):
        data = os.path.join(work, f"ball_room_{name}")
        if not os.path.exists(os.path.join(data, "dataset.json")):
            cli("generate", "--out", data, "--count", "300", "--resolution", str(args.resolution), "--preset",
                "default", "--quiet", *extra)
        images[name] = cached_images(read_index(data))
        run = os.path.join(work, f"ball_room_run_{name}")
        shutil.rmtree(run, ignore_errors=True)
        scores[name] = train(TrainRequest(data, run, TrainingRecipe(arch="radiance", epochs=3)),
                             lambda event, **fields: None)["best_val_psnr"]
    print(f"ball_room_images_equal: {int(np.array_equal(images['own'], images['param']))}", flush=True)
    print(f"ball_room_change_db: {abs(scores['param'] - scores['own']):.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "blendercnn-parameters"))
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--scenes", default=",".join(SCENES))
    parser.add_argument("--preset", default="default", help="the training renders' preset (default: default)")
    parser.add_argument("--reuse-runs", action="store_true", help="score the models already in --work")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    print(f"cpu: {os.cpu_count()} cores, {args.count} {args.preset} renders at {args.resolution}², {args.minutes:g} min per "
          "architecture", flush=True)
    for scene in args.scenes.split(","):
        measure_scene(args.work, scene, args)
    ball_room_change(args.work, args)


if __name__ == "__main__":
    main()
