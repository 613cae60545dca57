"""Faults a user's real day brings: a full disk, damaged files, Ctrl-C, two runs at once, a stopped start.

Nothing half-written under a final name, every interruption resumable, one readable line per
failure. Real renders (32 x 32) and, for the full disk, a real tmpfs (needs root to mount it;
skipped with the reason otherwise).
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from blendercnn_addon import png_check, storage  # Blender-free modules, from the repository
from conftest import ROOT, TINY, addon_module, images, run_cli, wait_for_images

pytestmark = pytest.mark.faults  # make test-faults (CI runs it after make test)


def damaged_images(folder, resolution=32):
    """{name: what is wrong} for every sample_*.png under its final name that is not whole."""
    found = {}
    for name in sorted(os.listdir(folder)):
        if name.startswith("sample_") and name.endswith(".png"):
            try:
                png_check.check_png(os.path.join(folder, name), resolution, resolution)
            except (png_check.DamagedImage, OSError) as err:
                found[name] = str(err)
    return found


def start_cli(*args):
    return subprocess.Popen([sys.executable, "-m", "blendercnn_addon", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# -- the PNG check itself -------------------------------------------------------------------------
def test_the_png_check_accepts_whole_images_and_names_what_is_wrong(tmp_path):
    path = tmp_path / "whole.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path)
    data = path.read_bytes()
    check = png_check.check_png_bytes
    check(data, 32, 32)
    for damaged, reason in ((b"", "empty"), (b"GIF89a" + data, "not a PNG"), (data[:len(data) // 2], "truncated"),
                            (data[:-12], "truncated"), (data[:60] + b"\0" * 8 + data[68:], "corrupt")):
        with pytest.raises(png_check.DamagedImage, match=reason):
            check(damaged, 32, 32)
    with pytest.raises(png_check.DamagedImage, match="32x32 pixels, expected 64x64"):
        check(data, 64, 64)


# -- a full disk ----------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A real 8 MB tmpfs, mounted for the test and unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def fill_disk(mount_point, leave_bytes):
    """A filler file that leaves about ``leave_bytes`` free on the tmpfs."""
    free = os.statvfs(mount_point).f_bavail * os.statvfs(mount_point).f_frsize
    filler = mount_point / "filler.bin"
    with open(filler, "wb") as handle:
        handle.write(b"\0" * max(0, free - leave_bytes))
    return filler


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_full_disk_never_commits_a_broken_image_and_the_run_resumes(small_disk, workers):
    out = str(small_disk / "ds")
    args = ("generate", "--out", out, "--resolution", "32", "--samples", "4", "--denoiser", "none",
            "--workers", workers)
    first = run_cli(*args, "--count", "2")
    assert first.returncode == 0, first.stderr
    # Room for the pre-check's estimate of 10 more images, not for what tmpfs really takes (4 kB pages).
    filler = fill_disk(small_disk, 10 * storage.bytes_per_image(32) + 8192)
    full = run_cli(*args, "--count", "12")
    assert full.returncode == 2, full.stderr
    last = full.stderr.strip().splitlines()[-1]
    assert "no space left on the disk of" in last and "still to render need about" in last, full.stderr
    assert "Traceback" not in full.stderr
    assert damaged_images(out) == {}, "a broken image was committed under its final name"
    os.remove(filler)
    again = run_cli(*args, "--count", "12")
    assert again.returncode == 0, again.stderr
    assert len(images(out)) == 12 and damaged_images(out) == {}
    metadata = json.loads(open(os.path.join(out, "metadata.json")).read())
    assert len(metadata) == 12


# -- damaged images under final names -------------------------------------------------------------
@pytest.fixture
def small_dataset(tmp_path):
    out = tmp_path / "ds"
    done = run_cli("generate", "--out", str(out), "--count", "6", *TINY)
    assert done.returncode == 0, done.stderr
    return out


def damage(folder):
    """sample_1 truncated, sample_2 garbage, sample_3 empty: what a crash or a full disk leaves."""
    data = (folder / "sample_1.png").read_bytes()
    (folder / "sample_1.png").write_bytes(data[:len(data) // 2])
    (folder / "sample_2.png").write_bytes(b"garbage " * 50)
    (folder / "sample_3.png").write_bytes(b"")


def test_resume_renders_damaged_images_again(small_dataset):
    before = {i: (small_dataset / f"sample_{i}.png").read_bytes() for i in (4, 6)}
    damage(small_dataset)
    done = run_cli("generate", "--out", str(small_dataset), "--count", "6", *TINY)
    assert done.returncode == 0, done.stderr
    assert "3 rendered now, 3 already there" in done.stdout
    assert "3 damaged image(s) found and rendered again" in done.stderr
    assert damaged_images(small_dataset) == {}
    assert all((small_dataset / f"sample_{i}.png").read_bytes() == data for i, data in before.items())


def test_training_names_every_damaged_image_and_leaves_no_partial_cache(small_dataset, tmp_path):
    damage(small_dataset)
    done = run_cli("train", "--data", str(small_dataset), "--out", str(tmp_path / "run"), "--epochs", "1")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "3 of 6 images" in lines[0] and "sample_2.png" in lines[0], done.stderr
    cache = small_dataset / ".blendercnn_cache"
    assert not [n for n in os.listdir(cache) if n.endswith(".partial")] if cache.exists() else True
    assert not (tmp_path / "run").exists()


# -- Ctrl-C and SIGTERM ---------------------------------------------------------------------------
@pytest.mark.parametrize("signum, workers", [(signal.SIGINT, "1"), (signal.SIGTERM, "1"), (signal.SIGINT, "2")],
                         ids=["ctrl-c-in-process", "sigterm-in-process", "ctrl-c-two-workers"])
def test_a_signal_stops_after_the_current_image_with_exit_130_and_the_folder_resumes(tmp_path, signum, workers):
    out = str(tmp_path / "ds")
    args = ("generate", "--out", out, "--count", "4000", "--resolution", "32", "--samples", "4",
            "--denoiser", "none", "--workers", workers)
    process = start_cli(*args)
    wait_for_images(out, 3)
    sent = time.monotonic()
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr[-2000:]
    assert time.monotonic() - sent < 10, "did not stop soon after the signal"
    assert "interrupted:" in stderr and "Traceback" not in stderr, stderr[-2000:]
    assert damaged_images(out) == {}
    assert not [n for n in os.listdir(out) if n.endswith(".partial")]
    assert not os.listdir(os.path.join(out, ".blendercnn")) or \
        not [n for n in os.listdir(os.path.join(out, ".blendercnn")) if n.startswith("run-")]
    finished = len(images(out))
    assert finished < 4000
    card = json.loads(open(os.path.join(out, "dataset.json")).read())
    assert card["finished"] == finished
    rest = run_cli(*args[:4], str(finished + 3), *args[5:])  # the folder resumes (to 3 more, for speed)
    assert rest.returncode == 0, rest.stderr
    assert "3 rendered now" in rest.stdout and damaged_images(out) == {}


def test_a_killed_runs_work_folder_is_cleaned_by_the_next_run(small_dataset):
    stale = small_dataset / ".blendercnn" / f"run-{os.uname().nodename}-999999999"
    stale.mkdir(parents=True)
    (stale / "scene.blend").write_bytes(b"left by kill -9")
    done = run_cli("generate", "--out", str(small_dataset), "--count", "7", *TINY)
    assert done.returncode == 0, done.stderr
    assert not stale.exists()


# -- two runs into one folder ---------------------------------------------------------------------
def test_a_second_run_into_the_same_folder_is_refused_at_once(tmp_path):
    out = str(tmp_path / "ds")
    args = ("generate", "--out", out, "--count", "4000", "--resolution", "32", "--samples", "4",
            "--denoiser", "none", "--workers", "1")
    first = start_cli(*args)
    try:
        wait_for_images(out, 1)
        before = set(images(out))
        second = run_cli(*args)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "another generate run is writing into" in lines[0], second.stderr
        assert before <= set(images(out))
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode == 130


def test_shards_share_a_folder_but_the_same_shard_twice_is_refused(tmp_path):
    out = str(tmp_path / "ds")
    args = ("generate", "--out", out, "--count", "4000", "--resolution", "32", "--samples", "4",
            "--denoiser", "none", "--workers", "1")
    first = start_cli(*args, "--shard", "0/2")
    other = None
    try:
        wait_for_images(out, 1)
        same = run_cli(*args, "--shard", "0/2")
        assert same.returncode == 2 and "shard 0/2" in same.stderr, same.stderr
        unsharded = run_cli(*args)
        assert unsharded.returncode == 2 and "another generate run" in unsharded.stderr, unsharded.stderr
        other = start_cli(*args, "--shard", "1/2")  # the other shard writes beside the first
        deadline = time.monotonic() + 120
        while not any(int(n[7:-4]) % 2 for n in images(out)):
            assert other.poll() is None and time.monotonic() < deadline, other.communicate()[1][-2000:]
            time.sleep(0.05)
    finally:
        for process in (first, other):
            if process is not None:
                process.send_signal(signal.SIGINT)
                process.communicate(timeout=60)
    assert first.returncode == other.returncode == 130


# -- the card comes first -------------------------------------------------------------------------
def test_a_start_stopped_while_baking_the_tables_leaves_a_folder_that_resumes(seed_scene, tmp_path, monkeypatch):
    generator, renderer = addon_module("blender.generator"), addon_module("blender.renderer")
    settings = addon_module("settings").GenerationSettings(out_dir=str(tmp_path / "ds"), count=3, resolution=32,
                                                            samples=2, denoiser="none")

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt("killed while baking the geometry")

    monkeypatch.setattr(renderer, "bake_scene_geometry", killed)
    job = generator.DatasetJob(seed_scene, settings, quiet=True)
    with pytest.raises(KeyboardInterrupt):
        job.start()
    assert (tmp_path / "ds" / "dataset.json").is_file(), "the card must be written before the tables"
    monkeypatch.undo()
    again = generator.DatasetJob(seed_scene, settings, quiet=True)
    again.run()
    assert again.done == 3 and (tmp_path / "ds" / "scene_geometry.npz").is_file()


def test_a_folder_an_older_version_left_with_tables_only_resumes(small_dataset, tmp_path):
    older = tmp_path / "older"
    older.mkdir()
    for name in ("view_transform_lut.npy", "scene_geometry.npz"):
        (older / name).write_bytes((small_dataset / name).read_bytes())
    done = run_cli("generate", "--out", str(older), "--count", "2", *TINY)
    assert done.returncode == 0, done.stderr
    assert len(images(older)) == 2


def test_a_card_without_identity_is_refused(small_dataset):
    card = json.loads((small_dataset / "dataset.json").read_text())
    del card["identity"]
    (small_dataset / "dataset.json").write_text(json.dumps(card))
    done = run_cli("generate", "--out", str(small_dataset), "--count", "6", *TINY)
    assert done.returncode == 2 and "records no dataset identity" in done.stderr, done.stderr


# -- images the tools write outside Blender (predict, invert, evaluate, the contact sheet) -----------------
@pytest.fixture
def tiny_run(tmp_path):
    data, run = tmp_path / "ds", tmp_path / "run"
    assert run_cli("generate", "--out", str(data), "--count", "12", *TINY).returncode == 0
    trained = run_cli("train", "--data", str(data), "--out", str(run), "--epochs", "1")
    assert trained.returncode == 0, trained.stderr
    return data, run


def test_predict_into_a_full_disk_leaves_no_broken_image_under_its_name(tiny_run, small_disk):
    """Before: predict --vectors left p10.png empty under its final name, --vector the same."""
    data, run = tiny_run
    filler = fill_disk(small_disk, 20_000)  # room for a few 32² PNGs, not for 12 (tmpfs takes 4 kB pages)
    many = run_cli("predict", "--model", str(run), "--vectors", str(data / "vectors.csv"), "--out",
                   str(small_disk / "many"))
    assert many.returncode != 0 and len(many.stderr.strip().splitlines()) == 1, many.stderr
    written = sorted(os.listdir(small_disk / "many"))
    assert 0 < len(written) < 12 and damaged_images(small_disk / "many") == {}, written
    assert not [n for n in os.listdir(small_disk / "many") if n.startswith(".")], "a temporary file was left"
    with open(small_disk / "more.bin", "wb") as more:  # the rest of the disk too
        more.write(b"\0" * os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize)
    one = run_cli("predict", "--model", str(run), "--vector", "1,0,0,0,0", "--out", str(small_disk / "one.png"))
    assert one.returncode != 0 and not (small_disk / "one.png").exists(), one.stderr
    assert len(one.stderr.strip().splitlines()) == 1 and "No space left" in one.stderr, one.stderr
    os.remove(filler)


def test_sigterm_stops_training_after_a_batch_and_the_run_resumes(tiny_run):
    """Before: train had no SIGTERM handler and died where it was (in a save, nothing resumable)."""
    data, _ = tiny_run
    run = data.parent / "terminated"
    process = subprocess.Popen([sys.executable, "-m", "blendercnn_addon", "train", "--data", str(data), "--out",
                                str(run), "--epochs", "1000", "--patience", "1000", "--batch-size", "2"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "state.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (run / "state.json").exists(), "no epoch finished"
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0 and "training cancelled" in stdout, stderr[-2000:]
    assert (run / "model.keras").is_file() and (run / "last.keras").is_file()
    done = json.loads((run / "state.json").read_text())["epochs_done"]
    resumed = run_cli("train", "--data", str(data), "--out", str(run), "--epochs", str(done + 1), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / "state.json").read_text())["epochs_done"] == done + 1


def test_a_second_trainer_in_a_run_folder_is_refused_and_the_first_runs_on(tiny_run):
    """Before: two train --resume on one folder both ran and exited 0, each overwriting the other's
    model.keras, last.keras, state.json and history.json."""
    data, run = tiny_run
    first = subprocess.Popen([sys.executable, "-m", "blendercnn_addon", "train", "--data", str(data), "--out", str(run),
                              "--epochs", "1000", "--patience", "1000", "--batch-size", "2", "--resume"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while json.loads((run / "state.json").read_text())["epochs_done"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # the first trainer holds the folder (it finished an epoch of its own)
        for second in (run_cli("train", "--data", str(data), "--out", str(run), "--epochs", "3000", "--resume"),
                       run_cli("train", "--data", str(data), "--out", str(run), "--epochs", "1")):
            lines = second.stderr.strip().splitlines()
            assert second.returncode == 2 and len(lines) == 1, second.stderr
            assert "another train is writing into" in lines[0] or "is not empty" in lines[0], lines
        assert first.poll() is None, "the first trainer must run on"
    finally:
        first.send_signal(signal.SIGINT)
        stdout, stderr = first.communicate(timeout=60)
    assert first.returncode == 0 and "training cancelled" in stdout, stderr[-2000:]
    resumed = run_cli("train", "--data", str(data), "--out", str(run), "--epochs", "1000", "--resume",
                      "--time-budget", "1")
    assert resumed.returncode == 0, resumed.stderr  # the lock went with the first trainer


def test_a_model_save_on_a_full_disk_leaves_no_partial_model(tiny_run, small_disk):
    """Before: .partial-model.keras (up to 9.6 MB) stayed beside the run after a full disk."""
    data, _ = tiny_run
    fill_disk(small_disk, 1_500_000)  # room for config.json and the logs, not for a 3.9 MB model
    run = small_disk / "run"
    done = run_cli("train", "--data", str(data), "--out", str(run), "--epochs", "1")
    last = done.stderr.strip().splitlines()[-1]  # after the progress display's lines
    assert done.returncode == 1 and last == "blendercnn_addon: error: No space left on device", done.stderr[-2000:]
    assert not [name for name in os.listdir(run) if "partial" in name], os.listdir(run)


def test_generate_stops_when_its_folder_is_deleted_under_it(tmp_path):
    """Before: generate rendered on into a folder Blender made again, and its tables listed hundreds
    of images that were gone."""
    out = tmp_path / "ds"
    process = start_cli("generate", "--out", str(out), "--count", "4000", *TINY)
    try:
        wait_for_images(out, 2)
        os.rename(out, tmp_path / "moved")  # as a user moves it away (or deletes it) mid-run
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    lines = stderr.strip().splitlines()
    assert process.returncode == 2 and "was deleted or moved while generating" in lines[-1], stderr[-2000:]
    assert not out.exists() or len(os.listdir(out)) <= 2, "it went on rendering"
    assert (tmp_path / "moved" / "dataset.json").is_file(), "the moved folder keeps its card"
