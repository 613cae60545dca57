"""Dataset generation through the real CLI and the real operator, with real Cycles renders (32 x 32)."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import bpy
import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, TINY, addon_module, run_cli

pytestmark = pytest.mark.compat  # also run on every Blender of make test-compat

COUNT = 12


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A finished 12-sample dataset, seed 7, made by ``python -m blendercnn_addon generate``."""
    out = tmp_path_factory.mktemp("gen") / "ds"
    done = run_cli("generate", "--out", str(out), "--count", str(COUNT), "--seed", "7", *TINY)
    assert done.returncode == 0, done.stderr
    return out


def load(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(np.float64)


def test_dataset_has_images_tables_and_card(dataset):
    names = sorted(n for n in os.listdir(dataset) if not n.startswith("."))
    assert os.listdir(dataset / ".blendercnn") == ["writer.lock"]  # hidden: the folder's writer lock
    assert names == sorted([f"sample_{i}.png" for i in range(1, COUNT + 1)] +
                           ["dataset.json", "metadata.json", "metadata.jsonl", "vectors.csv", "view_transform_lut.npy",
                            "scene_geometry.npz"])
    metadata = json.loads((dataset / "metadata.json").read_text())
    assert list(metadata) == [f"sample_{i}" for i in range(1, COUNT + 1)]
    with open(dataset / "vectors.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["name"] for r in rows] == list(metadata)
    for row in rows:
        assert [float(row[k]) for k in "rgbxy"] == metadata[row["name"]]
        assert 0 <= int(row["noise_seed"]) < 2**31
    assert len({row["noise_seed"] for row in rows}) == COUNT
    for i in range(1, COUNT + 1):
        image = Image.open(dataset / f"sample_{i}.png")
        assert image.size == (32, 32) and image.mode == "RGB"
    card = json.loads((dataset / "dataset.json").read_text())
    assert card["complete"] is True and card["finished"] == card["count"] == COUNT
    identity = card["identity"]  # each fact once: what makes the dataset is the identity's
    assert identity["seed"] == 7 and identity["render_samples"] == 4
    assert identity["resolution"] == 32 and identity["denoiser"] == "none"
    assert identity["view_transform"] == "Filmic"
    assert identity["colour_scheme"] == "vibrant"
    assert identity["x_range"] == [-1.0, 1.0]
    assert (identity["object"], identity["material"], identity["node"]) == ("Ball", "Glow", "Emission")
    assert not {"samples", "resolution", "denoiser"} & set(card["render"]) and "randomization" not in card
    assert card["blender_version"] == bpy.app.version_string and card["addon_version"] == "0.1.0"


def test_the_bright_ball_moves_the_way_x_and_y_say(dataset):
    """The camera looks along +x+y: screen-right is x - y, farther away (x + y) is higher up."""
    metadata = json.loads((dataset / "metadata.json").read_text())
    columns, rows, right, depth = [], [], [], []
    for name, (r, g, b, x, y) in metadata.items():
        luma = load(dataset / f"{name}.png").min(axis=2)
        top = luma >= np.percentile(luma, 98)  # the white-hot ball
        ys, xs = np.nonzero(top)
        columns.append(xs.mean())
        rows.append(ys.mean())
        right.append(x - y)
        depth.append(x + y)
    assert np.corrcoef(columns, right)[0, 1] > 0.9
    assert np.corrcoef(rows, depth)[0, 1] < -0.5


def test_the_glow_has_the_vectors_hue(dataset):
    """Filmic whitens the ball itself; its reflection and the lit walls carry the hue."""
    metadata = json.loads((dataset / "metadata.json").read_text())
    for name, (r, g, b, x, y) in metadata.items():
        pixels = load(dataset / f"{name}.png").reshape(-1, 3)
        pixels = pixels[pixels.min(axis=1) < 200]  # leave out the saturated white core
        mean = pixels.mean(axis=0)
        assert int(np.argmax(mean)) == int(np.argmax([r, g, b])), (name, mean, (r, g, b))
        assert int(np.argmin(mean)) == int(np.argmin([r, g, b])), (name, mean, (r, g, b))


def test_the_seeds_own_trainer_reads_a_new_folder(dataset):
    """As the seed's train.py --n_files N reads a folder: all_features = metadata.json, then for each name
    sample_1 … sample_N its five numbers and ~/data/flying_dots/{name}.png."""
    all_features = json.loads((dataset / "metadata.json").read_text())
    names = [f"sample_{i}" for i in range(1, COUNT + 1)]
    for name in names:
        features = all_features[name]
        assert len(features) == 5 and all(isinstance(v, float) for v in features)
        assert Image.open(dataset / f"{name}.png").size == (32, 32)
    assert set(all_features) == set(names)
    card = json.loads((dataset / "dataset.json").read_text())
    assert card["identity"]["first_index"] == 1 and card["files"]["images"] == f"sample_<i>.png, i = 1 … {COUNT}"


def test_a_folder_numbered_from_0_by_an_earlier_version_resumes_as_it_is(addon, seed_scene, tmp_path):
    """Made before the seed's numbering (sample_0 …, a card without first_index): resuming keeps it."""
    generator = addon_module("blender.generator")
    settings = addon_module("settings").GenerationSettings(out_dir=str(tmp_path / "old"), count=6, resolution=32,
                                                           samples=4, denoiser="none", first_index=0)
    generator.DatasetJob(seed_scene, settings, quiet=True).run(should_stop=lambda: False)
    card_path = tmp_path / "old" / "dataset.json"
    card = json.loads(card_path.read_text())
    del card["identity"]["first_index"]  # as the earlier version wrote it
    card_path.write_text(json.dumps(card))
    for i in (4, 5):
        (tmp_path / "old" / f"sample_{i}.png").unlink()
    done = run_cli("generate", "--out", str(tmp_path / "old"), "--count", "8", *TINY)
    assert done.returncode == 0, done.stderr
    assert "4 rendered now, 4 already there" in done.stdout
    assert sorted(n for n in os.listdir(tmp_path / "old") if n.endswith(".png")) == [f"sample_{i}.png" for i in range(8)]
    assert json.loads(card_path.read_text())["identity"]["first_index"] == 0


def test_same_seed_same_vectors_other_seed_other_vectors(dataset, tmp_path):
    again = run_cli("generate", "--out", str(tmp_path / "a"), "--count", "3", "--seed", "7", *TINY)
    other = run_cli("generate", "--out", str(tmp_path / "b"), "--count", "3", "--seed", "8", *TINY)
    assert again.returncode == other.returncode == 0
    reference = json.loads((dataset / "metadata.json").read_text())
    first_three = {k: reference[k] for k in ("sample_1", "sample_2", "sample_3")}
    assert json.loads((tmp_path / "a" / "metadata.json").read_text()) == first_three
    assert json.loads((tmp_path / "b" / "metadata.json").read_text()) != first_three


def _file_stamps(folder):
    return {name: os.stat(folder / name).st_mtime_ns for name in os.listdir(folder) if name.endswith(".png")}


def test_resume_after_kill_renders_only_the_missing_samples(dataset, tmp_path):
    out = tmp_path / "killed"
    args = [sys.executable, "-m", "blendercnn_addon", "generate", "--out", str(out), "--count", str(COUNT),
            "--seed", "7", *TINY]
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_file_stamps(out) if out.exists() else {}) < 4:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = _file_stamps(out)
    assert 4 <= len(before) < COUNT, f"kill came too late or too early ({len(before)} images)"

    resumed = run_cli("generate", "--out", str(out), "--count", str(COUNT), "--seed", "7", *TINY)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{COUNT - len(before)} rendered now, {len(before)} already there" in resumed.stdout
    after = _file_stamps(out)
    assert {name: after[name] for name in before} == before, "finished images were rendered again"
    assert len(after) == COUNT
    assert [n for n in os.listdir(out) if n.startswith(".")] == [".blendercnn"], "temporary files left behind"
    assert os.listdir(out / ".blendercnn") == ["writer.lock"]
    for table in ("metadata.json", "vectors.csv"):
        assert (out / table).read_bytes() == (dataset / table).read_bytes()
    assert json.loads((out / "dataset.json").read_text())["complete"] is True


def test_cancel_then_resume_through_the_operator(addon, seed_scene, dataset, tmp_path):
    """The panel's cancel path (job stops, finish() runs), then Generate again completes the dataset."""
    generator = sys.modules[addon.__name__ + ".blender.generator"]
    props = seed_scene.blendercnn
    props.output_dir = str(tmp_path / "cancelled")
    props.count, props.resolution, props.render_samples, props.seed = COUNT, 32, 4, 7
    job = generator.DatasetJob(seed_scene, props.generation_settings(props.output_dir), quiet=True)
    job.run(should_stop=lambda: job.done >= 5)
    card = json.loads((tmp_path / "cancelled" / "dataset.json").read_text())
    assert (card["finished"], card["complete"]) == (5, False)
    assert len(json.loads((tmp_path / "cancelled" / "metadata.json").read_text())) == 5
    assert tuple(seed_scene.objects["Ball"].location)[:2] == pytest.approx((0.0, 0.0)), "scene not restored"

    assert bpy.ops.blendercnn.generate_dataset() == {"FINISHED"}
    status = bpy.context.window_manager.blendercnn_status
    assert (status.done, status.total) == (COUNT, COUNT)
    assert status.message == f"Finished · {COUNT}/{COUNT} · 7 new"
    for table in ("metadata.json", "vectors.csv"):
        assert (tmp_path / "cancelled" / table).read_bytes() == (dataset / table).read_bytes()


def test_a_blend_with_the_compositor_on_still_renders_the_scene(seed_scene, tmp_path):
    """Blender 5.0 rendered flat grey through old files' compositors; the generator switches it off."""
    tree, image_output = addon_module("blender.compat").new_compositor_tree(seed_scene, "Flat grey")
    grey = tree.nodes.new("CompositorNodeRGB")
    grey.outputs[0].default_value = (0.5, 0.5, 0.5, 1.0)
    tree.links.new(grey.outputs[0], image_output)
    seed_scene.render.use_compositing = True
    seed_scene.render.resolution_x = seed_scene.render.resolution_y = 32
    seed_scene.cycles.samples = 4
    seed_scene.render.filepath = str(tmp_path / "through_compositor.png")
    bpy.ops.render.render(write_still=True, scene=seed_scene.name)
    assert load(tmp_path / "through_compositor.png").std() < 2, "the trap did not trigger: test is void"
    blend = tmp_path / "users_file.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True)

    done = run_cli("generate", "--blend", str(blend), "--scene", seed_scene.name, "--out", str(tmp_path / "ds"),
                   "--count", "2", *TINY)
    assert done.returncode == 0, done.stderr
    assert load(tmp_path / "ds" / "sample_1.png").std() > 20


def test_generate_names_the_recommended_count_when_asked_for_far_more(tmp_path):
    """10,000 renders where the learning curve says 500 make the same model: one note line (and one for the
    preset measured to train best at that resolution), then it renders."""
    from blendercnn_addon.recommendation import recommended_count  # the repository's, as the CLI runs it

    recommended = recommended_count(32)  # TINY's resolution: the 64² curve
    process = subprocess.Popen([sys.executable, "-m", "blendercnn_addon", "generate", "--out", str(tmp_path / "ds"),
                                "--count", "10000", *TINY], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                               stdout=subprocess.DEVNULL)
    try:
        first, second = process.stderr.readline(), process.stderr.readline()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=120)
    assert first.startswith(f"note: {recommended:,} renders train the same model as ") and f"{10_000 / recommended:.0f}× as long" in first
    assert "measured at 64²" in first
    assert second.startswith("note: --preset seed trains the best model at 64²"), second  # Default's renders, asked
