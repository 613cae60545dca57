"""Train as it renders (train --follow): a real generate writing a dataset while real training reads it."""

import json
import os
import subprocess
import sys
import time

import numpy as np

from conftest import ROOT, run_cli, tensorflow_python, wait_for_images

GENERATE = ("--resolution", "32", "--samples", "128")  # ≈ 0.2 s an image: training starts while it renders
TRAIN = ("--batch-size", "8", "--epochs", "200", "--patience", "1")


def start(python: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([python, "-m", "blendercnn_addon", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def kill_if_running(*processes: subprocess.Popen) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()


def listed_samples(folder) -> set[int]:
    """The samples metadata.json lists: what generate had committed at its last table flush."""
    return {int(key.split("_")[1]) for key in json.loads((folder / "metadata.json").read_text())}


def test_validation_by_index_never_moves_a_sample():
    from blendercnn_addon.ml.growing import split_by_index, validation_by_index

    everything = validation_by_index(np.arange(10_000), 0, 0.1)
    assert 900 <= everything.sum() <= 1100
    some = np.arange(0, 10_000, 7)[::-1]  # fewer samples, another order: the same side for each
    assert (validation_by_index(some, 0, 0.1) == everything[some]).all()
    assert (validation_by_index(np.arange(10_000), 1, 0.1) != everything).any(), "the seed must matter"
    train, validation = split_by_index(np.array([40, 3, 17, 8, 25, 11]), 0, 0.5)
    assert sorted([*train, *validation]) == list(range(6)) and not set(train) & set(validation)


def check_split_of(run, samples: set[int]) -> dict:
    """The run's recorded split covers exactly ``samples`` by the fixed rule; returns the config."""
    from blendercnn_addon.ml.growing import validation_by_index

    config = json.loads((run / "config.json").read_text())
    train, validation = set(config["train_indices"]), set(config["validation_indices"])
    assert train | validation == samples and not train & validation
    ordered = np.array(sorted(samples))
    assert validation == set(ordered[validation_by_index(ordered, 0, 0.1)].tolist())
    assert config["split_rule"] == "sample_index"
    return config


def test_training_follows_a_dataset_while_it_is_generated(tmp_path):
    """train --follow started first (the folder does not exist yet), generate a moment later."""
    data, run = tmp_path / "ds", tmp_path / "run"
    training = start(tensorflow_python(), "train", "--data", str(data), "--out", str(run), "--follow", *TRAIN)
    time.sleep(8)  # TensorFlow has loaded: training is looking at a folder no generate run has begun
    generate = start(sys.executable, "generate", "--out", str(data), "--count", "100", *GENERATE)
    try:
        _, trained = training.communicate(timeout=600)
        _, generated = generate.communicate(timeout=600)
    finally:
        kill_if_running(generate, training)
    assert generate.returncode == 0, generated
    assert training.returncode == 0, trained
    history = json.loads((run / "history.json").read_text())
    seen = [h["train_samples"] + h["validation_samples"] for h in history]
    assert history[0]["growing"] and 32 <= seen[0] < 100, "the first epoch did not start while rendering"
    assert seen == sorted(seen), "an epoch saw fewer images than the one before"
    assert seen[-1] == 100 and not history[-1]["growing"], "training did not end on the whole dataset"
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    check_split_of(run, set(range(1, 101)))
    assert (run / "model.keras").is_file()


def test_a_killed_generator_leaves_training_what_it_finished(tmp_path):
    """kill -9 mid-way: the lock goes with the process; training ends on the images metadata.json lists."""
    data, run = tmp_path / "ds", tmp_path / "run"
    generate = start(sys.executable, "generate", "--out", str(data), "--count", "2000", *GENERATE)
    training = start(tensorflow_python(), "train", "--data", str(data), "--out", str(run), "--follow", *TRAIN)
    try:
        wait_for_images(data, 60, timeout=300)
        generate.kill()
        generate.wait(timeout=60)
        out, err = training.communicate(timeout=600)
    finally:
        kill_if_running(generate, training)
    assert training.returncode == 0, err
    samples = listed_samples(data)
    assert 32 <= len(samples) < 2000
    check_split_of(run, samples)
    history = json.loads((run / "history.json").read_text())
    assert not history[-1]["growing"] and history[-1]["train_samples"] + history[-1]["validation_samples"] == len(samples)
    assert all((data / f"sample_{i}.png").is_file() for i in samples)


def test_follow_without_a_generator_says_so_in_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_cli("train", "--data", str(empty), "--out", str(tmp_path / "run"), "--follow", "--follow-wait", "2")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].endswith(
        f"no images in {empty} and no generate run is writing into it (waited 2 s); start generate first, or "
        "train without --follow")
    assert not (tmp_path / "run").exists()


def test_follow_on_a_finished_dataset_trains_on_all_of_it(tmp_path):
    data, run = tmp_path / "ds", tmp_path / "run"
    assert run_cli("generate", "--out", str(data), "--count", "40", "--resolution", "32", "--samples", "4").returncode == 0
    done = run_cli("train", "--data", str(data), "--out", str(run), "--follow", "--epochs", "2", "--batch-size", "8")
    assert done.returncode == 0, done.stderr
    check_split_of(run, set(range(1, 41)))
    history = json.loads((run / "history.json").read_text())
    assert [h["growing"] for h in history] == [False, False]
    assert os.path.isfile(run / "model.keras")
