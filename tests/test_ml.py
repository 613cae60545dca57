"""Real TensorFlow training on a tiny real dataset, through the CLI a user (or the subprocess) runs."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, run_cli, tensorflow_python
from test_blender_free import run_without_bpy


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    """24 real renders at 32 x 32."""
    out = tmp_path_factory.mktemp("ml") / "ds"
    done = run_cli("generate", "--out", str(out), "--count", "24", "--resolution", "32", "--samples", "4")
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def trained_run(tiny_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("ml") / "run"
    done = run_cli("train", "--data", str(tiny_dataset), "--out", str(run), "--epochs", "2", "--batch-size", "8")
    assert done.returncode == 0, done.stderr
    return run


def test_training_writes_a_complete_run(trained_run, tiny_dataset):
    for name in ("model.keras", "last.keras", "config.json", "history.json", "state.json"):
        assert (trained_run / name).is_file(), name
    config = json.loads((trained_run / "config.json").read_text())
    assert config["arch"] == "radiance" and config["resolution"] == 32 and config["batch_size"] == 8
    train, val = config["train_indices"], config["validation_indices"]
    assert sorted(train + val) == list(range(1, 25)) and len(val) == 2
    assert val != [23, 24], "the split must be a seeded shuffle, not the last 10 %"
    assert config["vector_min"][3:] == [-1.0, -1.0] and config["vector_max"][3:] == [1.0, 1.0]
    history = json.loads((trained_run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(h["val_psnr"] == pytest.approx(10 * np.log10(1 / h["val_loss"])) for h in history)
    events = [f for folder, _, files in os.walk(trained_run / "logs") for f in files if "tfevents" in f]
    assert len(events) >= 3, "TensorBoard event files missing (train, validation, images)"
    assert list((tiny_dataset / ".blendercnn_cache").glob("images-*.npy")), "decoded cache missing"


def test_split_is_reproducible(tiny_dataset, trained_run, tmp_path):
    again = run_cli("train", "--data", str(tiny_dataset), "--out", str(tmp_path / "r"), "--epochs", "1",
                    "--batch-size", "8")
    assert again.returncode == 0, again.stderr
    first = json.loads((trained_run / "config.json").read_text())
    second = json.loads((tmp_path / "r" / "config.json").read_text())
    assert first["validation_indices"] == second["validation_indices"]


def test_resume_continues_from_the_last_epoch(tiny_dataset, trained_run, tmp_path):

    run = tmp_path / "resumed"
    shutil.copytree(trained_run, run)
    done = run_cli("train", "--data", str(tiny_dataset), "--out", str(run), "--epochs", "3", "--resume")
    assert done.returncode == 0, done.stderr
    assert "22 train / 2 validation samples, 3 batches per epoch" in done.stderr  # the run's batches of 8, not 16
    assert [h["epoch"] for h in json.loads((run / "history.json").read_text())] == [1, 2, 3]
    assert json.loads((run / "state.json").read_text())["epochs_done"] == 3


def test_json_progress_and_stop_command(tiny_dataset, tmp_path):
    """The subprocess protocol the panel uses: live JSON lines out, {"command": "stop"} in."""
    process = subprocess.Popen(
        [sys.executable, "-m", "blendercnn_addon", "train", "--data", str(tiny_dataset), "--out",
         str(tmp_path / "run"), "--epochs", "1000", "--batch-size", "2", "--patience", "1000", "--progress", "json"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    events = []
    sent = False
    for line in process.stdout:
        message = json.loads(line)
        events.append(message)
        if message["event"] == "epoch" and message["epoch"] == 2 and not sent:
            process.stdin.write('{"command": "stop"}\n')
            process.stdin.flush()
            sent = True
    assert process.wait(timeout=60) == 0
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and "batch" in kinds
    start = events[0]
    assert start["device"] == "CPU" and start["batches"] == 11 and start["epochs"] == 1000
    epochs = [e for e in events if e["event"] == "epoch"]
    assert all(set(e) >= {"loss", "val_loss", "val_psnr", "lr", "elapsed_s", "eta_s"} for e in epochs)
    done = events[-1]
    assert done["cancelled"] is True and 2 <= done["epochs_done"] <= 3
    assert os.path.isfile(done["model"])


def test_evaluate_writes_metrics_and_grid(tiny_dataset, trained_run):
    done = run_cli("evaluate", "--data", str(tiny_dataset), "--model", str(trained_run))
    assert done.returncode == 0, done.stderr
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["samples"] == 2
    assert metrics["psnr_db"] > 0 and 0 < metrics["mse"] < 1 and -1 <= metrics["ssim"] <= 1
    assert 0 < metrics["mask_fraction"] < 1
    grid = Image.open(trained_run / "comparison.png")
    assert grid.size == (3 * 32, 2 * 32)


def test_predict_one_vector_and_a_csv(trained_run, tiny_dataset, tmp_path):
    done = run_cli("predict", "--model", str(trained_run), "--vector", "1,0,0.5,0.2,-0.3", "--out",
                   str(tmp_path / "one.png"))
    assert done.returncode == 0, done.stderr
    image = Image.open(tmp_path / "one.png")
    assert image.size == (32, 32) and image.mode == "RGB"
    many = run_cli("predict", "--model", str(trained_run), "--vectors", str(tiny_dataset / "vectors.csv"),
                   "--out", str(tmp_path / "many"))
    assert many.returncode == 0, many.stderr
    assert len(os.listdir(tmp_path / "many")) == 24 and (tmp_path / "many" / "sample_1.png").exists()


@pytest.mark.parametrize("vector, message", [
    ("1,0,0.5,0.2", "five numbers r,g,b,x,y; got 4"),
    ("1,0,nan,0.2,0", "NaN or infinity"),
    ("1.5,0,0,0,0", "outside [0, 1]"),
    ("1,0,0,3,0", "x = 3.0 is outside the range the model was trained on"),
    ("a,b,c,d,e", "five numbers"),
])
def test_predict_refuses_bad_vectors(trained_run, tmp_path, vector, message):
    done = run_cli("predict", "--model", str(trained_run), "--vector", vector, "--out", str(tmp_path / "x.png"))
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


def test_corrupt_or_foreign_models_are_refused(trained_run, tmp_path):

    broken = tmp_path / "broken"
    shutil.copytree(trained_run, broken)
    (broken / "model.keras").write_bytes(b"PK\x03\x04 not really a zip")
    done = run_cli("predict", "--model", str(broken), "--vector", "1,0,0,0,0", "--out", str(tmp_path / "x.png"))
    assert done.returncode == 2 and "is not a loadable Keras model" in done.stderr
    config = json.loads((trained_run / "config.json").read_text())
    config["resolution"] = 64
    (broken / "config.json").write_text(json.dumps(config))
    shutil.copy(trained_run / "model.keras", broken / "model.keras")
    done = run_cli("predict", "--model", str(broken), "--vector", "1,0,0,0,0", "--out", str(tmp_path / "x.png"))
    assert done.returncode == 2 and "not a BlenderCNN model" in done.stderr


def test_training_refuses_bad_data_and_used_run_folders(tiny_dataset, trained_run, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_cli("train", "--data", str(empty), "--out", str(tmp_path / "r1"), "--epochs", "1")
    assert done.returncode == 2 and "metadata.json not found" in done.stderr
    assert not (tmp_path / "r1").exists()
    before = (trained_run / "history.json").read_bytes()
    done = run_cli("train", "--data", str(tiny_dataset), "--out", str(trained_run), "--epochs", "1")
    assert done.returncode == 2 and "is not empty" in done.stderr
    assert (trained_run / "history.json").read_bytes() == before
    done = run_cli("train", "--data", str(tiny_dataset), "--out", str(tmp_path / "r2"), "--epochs", "0")
    assert done.returncode == 2 and "epochs must be at least 1" in done.stderr


def test_training_runs_without_bpy(tiny_dataset, tmp_path):
    code = "import sys; from blendercnn_addon.cli import main; sys.exit(main(sys.argv[1:]))"
    done = run_without_bpy(code, "train", "--data", str(tiny_dataset), "--out", str(tmp_path / "run"),
                           "--epochs", "1", "--batch-size", "8")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "model.keras").is_file()


def test_metadata_that_disagrees_with_the_images_is_refused(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    Image.new("RGB", (32, 32)).save(folder / "sample_0.png")
    (folder / "metadata.json").write_text('{"sample_0": [1, 0, 0, 0, 0], "sample_1": [0, 1, 0, 0, 0]}')
    done = run_cli("train", "--data", str(folder), "--out", str(tmp_path / "run"), "--epochs", "1")
    assert done.returncode == 2 and "cannot read image" in done.stderr and "sample_1.png" in done.stderr


def test_auto_trains_seed_on_a_dataset_without_the_view_table(tiny_dataset, tmp_path):
    """The seed project's own layout (PNGs + metadata.json): the default architecture falls back to
    seed, with the seed's recipe."""
    folder = tmp_path / "seed_layout"
    folder.mkdir()
    for path in tiny_dataset.iterdir():
        if path.suffix == ".png" or path.name == "metadata.json":
            shutil.copy(path, folder)
    done = run_cli("train", "--data", str(folder), "--out", str(tmp_path / "run"), "--epochs", "1")
    assert done.returncode == 0, done.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["arch"], config["batch_size"], config["learning_rate"]) == ("seed", 32, 0.001)


# -- bad input and faults (one readable line, nothing written) -----------------------------------
def one_line_error(done, fragment):
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and fragment in lines[0], done.stderr


def write_csv(path, rows, encoding="utf-8"):
    path.write_text("name,r,g,b,x,y\n" + "".join(f"{n},1,0,0.5,0.1,0.2\n" for n in rows), encoding=encoding)
    return path


@pytest.mark.parametrize("names, fragment", [
    (["../../escaped"], "not a plain file name"),
    (["{tmp}/absolute"], "not a plain file name"),
    (["sub/dir"], "not a plain file name"),
    ([".hidden"], "not a plain file name"),
    (["twin", "Twin"], "have the same name"),
], ids=["dot-dot", "absolute", "separator", "hidden", "duplicate"])
def test_predict_writes_only_plain_distinct_names_inside_out(trained_run, tmp_path, names, fragment):
    names = [name.replace("{tmp}", str(tmp_path)) for name in names]
    csv_path = write_csv(tmp_path / "v.csv", names)
    out = tmp_path / "deep" / "out"
    done = run_cli("predict", "--model", str(trained_run), "--vectors", str(csv_path), "--out", str(out))
    one_line_error(done, fragment)
    assert not (tmp_path / "deep").exists() and not (tmp_path / "escaped.png").exists()
    assert not (tmp_path / "absolute.png").exists()


def test_predict_reads_a_csv_with_a_byte_order_mark_and_refuses_latin_1(trained_run, tmp_path):
    bom = write_csv(tmp_path / "bom.csv", ["a"], encoding="utf-8-sig")
    done = run_cli("predict", "--model", str(trained_run), "--vectors", str(bom), "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "o" / "a.png").is_file()
    latin = write_csv(tmp_path / "latin.csv", ["café"], encoding="latin-1")
    done = run_cli("predict", "--model", str(trained_run), "--vectors", str(latin), "--out", str(tmp_path / "l"))
    one_line_error(done, "is not UTF-8 text")
    assert not (tmp_path / "l").exists()


@pytest.mark.parametrize("out, fragment", [("no_extension", "must name a .png file"),
                                           ("missing/x.png", "the folder of --out does not exist"),
                                           ("", "--out is empty")])
def test_predict_out_must_be_a_png_in_an_existing_folder(trained_run, tmp_path, out, fragment):
    target = str(tmp_path / out) if out else ""
    done = run_cli("predict", "--model", str(trained_run), "--vector", "1,0,0,0,0", "--out", target)
    one_line_error(done, fragment)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("card, fragment", [("{not json", "not a readable dataset card"),
                                            ("[1, 2, 3]", "not a BlenderCNN dataset card")])
def test_training_refuses_an_unreadable_dataset_card(tiny_dataset, tmp_path, card, fragment):
    copy = tmp_path / "ds"
    shutil.copytree(tiny_dataset, copy)
    (copy / "dataset.json").write_text(card)
    done = run_cli("train", "--data", str(copy), "--out", str(tmp_path / "run"), "--epochs", "1")
    one_line_error(done, fragment)
    assert not (tmp_path / "run").exists()


def test_training_refuses_infinite_vectors(tiny_dataset, tmp_path):
    copy = tmp_path / "ds"
    shutil.copytree(tiny_dataset, copy)
    data = json.loads((copy / "metadata.json").read_text())
    data["sample_3"][3] = float("inf")
    (copy / "metadata.json").write_text(json.dumps(data))
    done = run_cli("train", "--data", str(copy), "--out", str(tmp_path / "run"), "--epochs", "1")
    one_line_error(done, "sample_3 has a number that is not finite")


def test_resume_refuses_a_corrupt_or_foreign_last_model(tiny_dataset, trained_run, tmp_path):
    corrupt = tmp_path / "corrupt"
    shutil.copytree(trained_run, corrupt)
    (corrupt / "last.keras").write_bytes(b"PK\x03\x04 not a model")
    done = run_cli("train", "--data", str(tiny_dataset), "--out", str(corrupt), "--epochs", "3", "--resume")
    one_line_error(done, "is not a loadable Keras model")
    foreign = tmp_path / "foreign"
    shutil.copytree(trained_run, foreign)
    # A Keras model that is not this run's (5 numbers to 3), made in TensorFlow's own process:
    # TensorFlow is never imported into the test process, which holds Blender.
    from conftest import tensorflow_python
    code = ("import keras, sys; m = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)]); "
            "m.compile(optimizer='adam', loss='mse'); m.save(sys.argv[1])")
    made = subprocess.run([tensorflow_python(), "-c", code, str(foreign / "last.keras")], capture_output=True,
                          text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    done = run_cli("train", "--data", str(tiny_dataset), "--out", str(foreign), "--epochs", "3", "--resume")
    one_line_error(done, "not this run's model")


def test_evaluate_and_resume_refuse_another_dataset(trained_run, tmp_path):
    other = tmp_path / "other"
    done = run_cli("generate", "--out", str(other), "--count", "24", "--resolution", "32", "--samples", "4",
                   "--seed", "5")
    assert done.returncode == 0, done.stderr
    done = run_cli("evaluate", "--data", str(other), "--model", str(trained_run), "--out", str(tmp_path / "ev"))
    one_line_error(done, "is not the dataset run")
    before = (trained_run / "history.json").read_bytes()
    done = run_cli("train", "--data", str(other), "--out", str(trained_run), "--epochs", "3", "--resume")
    one_line_error(done, "is not the dataset run")
    assert (trained_run / "history.json").read_bytes() == before


def test_training_that_diverges_stops_with_one_line(tiny_dataset, tmp_path):
    done = run_cli("train", "--data", str(tiny_dataset), "--out", str(tmp_path / "run"), "--epochs", "3",
                   "--arch", "seed", "--learning-rate", "1e30")
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]  # after the epoch lines of the progress display
    assert "training diverged: the loss became NaN or infinite at epoch 1" in last, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "run" / "model.keras").exists()


def test_serve_answers_every_line_and_refuses_vectors_that_are_not_numbers(trained_run):
    requests = "\n".join([
        "this is not json",
        json.dumps({"command": "predict", "id": 1, "vector": "1,0,0,0,0"}),
        json.dumps({"command": "predict", "id": 2, "vector": [True, False, False, 0, 0]}),
        json.dumps({"command": "predict", "id": 3, "vector": [1, 0, 0, 0, 0]}),
        json.dumps({"command": "stop"}),
    ]) + "\n"
    from conftest import tensorflow_python
    done = subprocess.run([tensorflow_python(), "-m", "blendercnn_addon", "serve", "--model", str(trained_run)],
                          input=requests, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert answers[0]["event"] == "ready"
    replies = answers[1:]
    assert [(r["event"], r.get("id"), r.get("fatal")) for r in replies] == [
        ("error", None, False), ("error", 1, False), ("error", 2, False), ("image", 3, None)]
    assert "not a JSON object" in replies[0]["message"] and "list of five numbers" in replies[1]["message"]


def test_serve_writes_frames_as_blender_stores_pixels(trained_run, tmp_path):
    """serve --frame-file: each image lands in the mapped file as RGBA float32, bottom row first;
    the same image as the base64 answer, flipped, with alpha 1."""
    from conftest import tensorflow_python
    frame = tmp_path / "preview.frame"
    request = json.dumps({"command": "predict", "id": 7, "vector": [1, 0.5, 0, 0.2, -0.3]}) + "\n"
    framed = subprocess.run([tensorflow_python(), "-m", "blendercnn_addon", "serve", "--model", str(trained_run),
                             "--frame-file", str(frame)], input=request, capture_output=True, text=True, cwd=ROOT,
                            timeout=300)
    plain = subprocess.run([tensorflow_python(), "-m", "blendercnn_addon", "serve", "--model", str(trained_run)],
                           input=request, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert framed.returncode == 0 and plain.returncode == 0, framed.stderr + plain.stderr
    answer = [json.loads(line) for line in framed.stdout.splitlines() if line.startswith("{")][-1]
    assert (answer["event"], answer["id"], answer["encoding"]) == ("image", 7, "frame-file")
    assert 0 < answer["inference_s"] <= answer["seconds"]
    rgba = np.fromfile(frame, dtype=np.float32).reshape(32, 32, 4)
    base64_answer = [json.loads(line) for line in plain.stdout.splitlines() if line.startswith("{")][-1]
    import base64
    rgb = np.frombuffer(base64.b64decode(base64_answer["pixels"]), np.uint8).reshape(32, 32, 3)
    assert np.all(rgba[..., 3] == 1.0)
    assert np.abs(np.rint(rgba[::-1, :, :3] * 255) - rgb).max() <= 1


def test_serve_draws_each_request_in_the_light_it_asks_for(trained_run, tmp_path):
    """"light": display (the default), viewport (display colours sRGB-decoded) or linear (the model's
    scene-linear light; a seed model's display colours sRGB-decoded), into the frame file only."""
    from conftest import tensorflow_python
    frame = tmp_path / "engine.frame"
    vector = [1, 0.5, 0, 0.2, -0.3]
    lines = [{"command": "predict", "id": 1, "vector": vector}, {"command": "stop"}]
    images = {}
    for light in ("display", "viewport", "linear"):
        lines[0]["light"] = light
        done = subprocess.run([tensorflow_python(), "-m", "blendercnn_addon", "serve", "--model", str(trained_run),
                               "--frame-file", str(frame)], input="\n".join(map(json.dumps, lines)) + "\n",
                              capture_output=True, text=True, cwd=ROOT, timeout=300)
        answers = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        assert answers[-1]["event"] == "image", answers
        images[light] = np.fromfile(frame, dtype=np.float32).reshape(32, 32, 4)[..., :3].astype(np.float64)
    display = images["display"]
    decoded = np.where(display <= 0.04045, display / 12.92, ((display + 0.055) / 1.055) ** 2.4)
    assert np.abs(images["viewport"] - decoded).max() < 1e-5
    assert answers[0]["linear_from"] in ("model", "srgb")
    if answers[0]["linear_from"] == "srgb":
        assert np.abs(images["linear"] - decoded).max() < 1e-5
    refused = [{"command": "predict", "id": 2, "vector": vector, "light": "infrared"},
               {"command": "predict", "id": 3, "vector": vector, "light": "linear"}, {"command": "stop"}]
    done = subprocess.run([tensorflow_python(), "-m", "blendercnn_addon", "serve", "--model", str(trained_run)],
                          input="\n".join(map(json.dumps, refused)) + "\n", capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    replies = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")][1:]
    assert [(r["event"], r["id"]) for r in replies] == [("error", 2), ("error", 3)]
    assert "light must be one of display, linear, viewport" in replies[0]["message"]
    assert "frame file only" in replies[1]["message"]


# -- image → vector ------------------------------------------------------------------------------
@pytest.mark.parametrize("truth", [[0.9, 0.35, 0.1, 0.3, -0.4], [1.0, 0.35, 0.0, -0.2, 0.5]],
                         ids=["any-colour", "vibrant"])  # vibrant: a channel at exactly 1 and one at 0
def test_invert_finds_the_vector_of_the_models_own_image(trained_run, tmp_path, truth):
    picture, fitted = tmp_path / "picture.png", tmp_path / "fitted.png"
    done = run_cli("predict", "--model", str(trained_run), "--vector", ",".join(map(str, truth)),
                   "--out", str(picture))
    assert done.returncode == 0, done.stderr
    done = run_cli("invert", "--model", str(trained_run), "--image", str(picture), "--out", str(fitted))
    assert done.returncode == 0, done.stderr
    figures = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())
    found = [float(figures[name]) for name in "rgbxy"]
    print("invert round trip:", found, "psnr", figures["fit_psnr_db"], "s", figures["seconds"])
    # The model's own image: the vector is there to be found exactly (measured: colour within 0.0003,
    # position within 0.3 mm, 59 dB; a sigmoid on the colour found the vibrant 1 at 0.991, 47 dB).
    assert max(abs(a - b) for a, b in zip(found[:3], truth[:3])) <= 0.003, found
    assert max(abs(a - b) for a, b in zip(found[3:], truth[3:])) <= 0.01, found
    assert float(figures["fit_psnr_db"]) > 50 and Image.open(fitted).size == (32, 32)


def test_invert_a_folder_writes_a_csv_that_predict_reads_back(trained_run, tiny_dataset, tmp_path):
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    for i in (1, 2, 3):
        shutil.copy(tiny_dataset / f"sample_{i}.png", pictures)
    Image.new("RGB", (32, 32)).save(pictures / "black.png")  # no ball: a note, not a failure
    out = tmp_path / "estimates.csv"
    done = run_cli("invert", "--model", str(trained_run), "--images", str(pictures), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "4 pictures estimated" in done.stdout and "with a note" in done.stdout  # at least the black one
    rows = {row["name"]: row for row in __import__("csv").DictReader(out.open())}
    assert "no ball in the picture" in rows["black"]["note"]
    metadata = json.loads((tiny_dataset / "metadata.json").read_text())
    for i in (1, 2, 3):
        truth, row = metadata[f"sample_{i}"], rows[f"sample_{i}"]
        assert abs(float(row["x"]) - truth[3]) < 0.25 and abs(float(row["y"]) - truth[4]) < 0.25, (row, truth)
    del rows["black"]
    readable = tmp_path / "readable.csv"
    readable.write_text("name,r,g,b,x,y\n" + "".join(f"{n},{r['r']},{r['g']},{r['b']},{r['x']},{r['y']}\n"
                                                     for n, r in rows.items()))
    again = run_cli("predict", "--model", str(trained_run), "--vectors", str(readable), "--out", str(tmp_path / "re"))
    assert again.returncode == 0, again.stderr


@pytest.fixture(scope="module")
def seed_run(tiny_dataset, tmp_path_factory):
    """A seed-architecture run of one epoch on the tiny dataset."""
    run = tmp_path_factory.mktemp("ml") / "seed_run"
    done = run_cli("train", "--data", str(tiny_dataset), "--out", str(run), "--arch", "seed", "--epochs", "1",
                   "--batch-size", "8")
    assert done.returncode == 0, done.stderr
    return run


def test_invert_works_for_the_seed_architecture_too(seed_run, tmp_path):
    """Inversion asks the model only for images and gradients: a seed-architecture run inverts too
    (one epoch draws the ball vaguely, so only the fit to its own image is checked; measured 58.9 dB)."""
    run, picture = seed_run, tmp_path / "picture.png"
    done = run_cli("predict", "--model", str(run), "--vector", "0.9,0.35,0.1,0.3,-0.4", "--out", str(picture))
    assert done.returncode == 0, done.stderr
    done = run_cli("invert", "--model", str(run), "--image", str(picture))
    assert done.returncode == 0, done.stderr
    figures = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())
    assert float(figures["fit_psnr_db"]) > 30, figures


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p.write_text("not an image"), "cannot read image"),
    (lambda p: Image.new("RGB", (64, 64), (255, 255, 255)).save(p, format="PNG"), "is 64x64, the model draws 32x32"),
    (lambda p: Image.new("RGB", (32, 32), (3, 3, 3)).save(p, format="PNG"), "no ball in the picture"),
], ids=["not-an-image", "other-size", "no-ball"])
def test_invert_refuses_bad_pictures_in_one_line_and_writes_nothing(trained_run, tmp_path, make, fragment):
    picture = tmp_path / "picture.png"
    make(picture)
    done = run_cli("invert", "--model", str(trained_run), "--image", str(picture), "--out", str(tmp_path / "f.png"))
    one_line_error(done, fragment)
    assert not (tmp_path / "f.png").exists()


def test_invert_a_folder_with_a_picture_of_another_size_writes_nothing(trained_run, tmp_path):
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    Image.new("RGB", (64, 64)).save(pictures / "big.png")
    done = run_cli("invert", "--model", str(trained_run), "--images", str(pictures), "--out", str(tmp_path / "e.csv"))
    one_line_error(done, "is 64x64, the model draws 32x32")
    assert not (tmp_path / "e.csv").exists()


PLATEAU_SCRIPT = r"""
import json, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
from blendercnn_addon.ml.callbacks import plateau_callbacks
from blendercnn_addon.run_config import TrainingRecipe
config = TrainingRecipe(arch="radiance", learning_rate=1e-3, early_stopping_patience=5, lr_patience=3)
model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="mse")
stopping, schedule = plateau_callbacks(config)
for callback in (stopping, schedule):
    callback.set_model(model)
    callback.on_train_begin()
# After epoch 3, a plateau: the validation PSNR wanders within 0.04 dB of 27 (noise, not progress).
psnrs = [20.0, 25.0, 27.0] + [27.03, 26.98, 27.04, 27.01, 27.02, 26.99, 27.03, 27.0] * 4
rates, stopped_after = [], None
for epoch, value in enumerate(psnrs):
    logs = {"val_psnr": value, "val_loss": 10 ** (-value / 10)}
    schedule.on_epoch_end(epoch, logs)
    stopping.on_epoch_end(epoch, logs)
    rates.append(float(model.optimizer.learning_rate.numpy()))
    if model.stop_training:
        stopped_after = epoch + 1
        break
print(json.dumps({"stopped_after": stopped_after, "lowest_rate": min(rates), "floor": schedule.min_lr}))
"""


def test_training_stops_when_gains_are_noise_and_the_rate_has_a_floor():
    """Gains under 0.05 dB over the best are noise: stop after the patience; the rate floor is 1e-6."""
    done = subprocess.run([tensorflow_python(), "-c", PLATEAU_SCRIPT], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["stopped_after"] == 3 + 5  # the best (epoch 3) plus five epochs without a real gain
    assert answer["lowest_rate"] < 1e-3  # the plateau cut the rate once on the way
    assert answer["floor"] == pytest.approx(1e-6)  # three tenfold cuts at most


FUSED_SCRIPT = """
import json, sys
import numpy as np
from blendercnn_addon.ml.tensorflow_import import import_tensorflow_quietly
tf = import_tensorflow_quietly()
from blendercnn_addon.ml import models
from blendercnn_addon.ml.inference import load_run
model = load_run(sys.argv[1]).model
vectors = tf.constant([[1.0, 0.35, 0.0, -0.2, 0.5], [0.2, 0.9, 0.6, 0.3, -0.4], [0.02, 0.01, 0.05, 0.9, 0.9]])
with tf.GradientTape() as tape:
    tape.watch(vectors)
    images = model(vectors, training=False)
    loss = tf.reduce_mean(tf.square(images - 0.3))
gradient = tape.gradient(loss, vectors)
np.savez(sys.argv[2], images=images.numpy(), gradient=gradient.numpy())
from blendercnn_addon import view_lut
big = models.build_model("radiance", 64, view_lut.load(sys.argv[3]))  # at FUSE_FROM_PIXELS
def fused(model):
    return sorted(layer.name for layer in model.layers
                  if isinstance(layer, models._FusedCall) and layer._fused_call != layer.fused)
print(json.dumps({"fused": models._xla_available(), "fused_layers": fused(model), "fused_layers_64": fused(big)}))
"""


def test_fused_layers_draw_and_learn_exactly_as_op_by_op(trained_run, tiny_dataset, tmp_path):
    """XLA fuses the per-pixel layers (models._FusedCall): the same images and the same gradients
    as op by op (BLENDERCNN_XLA=0), which is how the model ran before. (This 32² model is under
    FUSE_FROM_PIXELS: BLENDERCNN_XLA=1 fuses it anyway.)"""
    answers = {}
    for xla in ("0", "1", "auto"):
        env = {key: value for key, value in os.environ.items() if key != "BLENDERCNN_XLA"}
        done = subprocess.run([tensorflow_python(), "-c", FUSED_SCRIPT, str(trained_run), str(tmp_path / f"{xla}.npz"),
                               str(tiny_dataset)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env=env if xla == "auto" else {**env, "BLENDERCNN_XLA": xla})
        assert done.returncode == 0, done.stderr[-2000:]
        answers[xla] = json.loads(done.stdout.strip().splitlines()[-1])
    both = ["linear_rgb", "view_transform"]
    assert answers["0"]["fused"] is False and answers["0"]["fused_layers"] == answers["0"]["fused_layers_64"] == []
    assert answers["1"]["fused_layers"] == answers["1"]["fused_layers_64"] == both
    assert answers["auto"]["fused_layers"] == [] and answers["auto"]["fused_layers_64"] == both  # 32² under the bar
    plain, fused = np.load(tmp_path / "0.npz"), np.load(tmp_path / "1.npz")
    assert np.abs(plain["images"] - fused["images"]).max() < 1e-5
    assert np.allclose(plain["gradient"], fused["gradient"], rtol=1e-3, atol=1e-7)
    assert np.abs(fused["gradient"]).max() > 0  # a gradient that could differ


def malformed_lines(count: int, seed: int = 0) -> list[str]:
    """``count`` request lines a confused or hostile client could send: not JSON, JSON that is not an
    object, objects with wrong commands and fields of every wrong type (a width of 1e400 among them),
    and one array nested 200,000 deep. None is empty; none asks to stop."""
    import random
    import string

    rng = random.Random(seed)
    junk = [None, True, -1, 0, 2.5, 1e400, -1e400, 10**30, "x", "", [], {}, [1, 2], {"a": [1]}, "1,0,0,0,0"]
    lines = ["[" * 200_000 + "]" * 200_000, '{"command": "invert", "id": 16, "width": 1e400, "height": 32, '
                                             '"pixels": ""}']
    while len(lines) < count:
        kind = rng.randrange(4)
        if kind == 0:
            lines.append("".join(rng.choice(string.ascii_letters + string.digits + string.punctuation + " ")
                                 for _ in range(rng.randrange(1, 60))).strip() or "?")
        elif kind == 1:
            lines.append(json.dumps(rng.choice(junk)))
        else:
            message = {"command": rng.choice(["predict", "invert", "draw", None, 3]), "id": rng.choice(junk)}
            for field in rng.sample(["vector", "width", "height", "pixels"], rng.randrange(5)):
                message[field] = rng.choice(junk + [[rng.random()] * rng.choice((0, 1, 2, 4, 6))])  # never 5
            text = json.dumps(message)
            lines.append(text if kind == 2 else text[:rng.randrange(1, len(text))])  # kind 3: cut short
    return lines


def test_serve_answers_10000_malformed_lines_then_a_valid_request(trained_run):
    """Every line gets exactly one answer, whatever it holds, and the worker keeps serving."""
    from conftest import tensorflow_python

    lines = malformed_lines(10_000)
    valid = json.dumps({"command": "predict", "id": "last", "vector": [1, 0.5, 0, 0.2, -0.3]})
    done = subprocess.run([tensorflow_python(), "-m", "blendercnn_addon", "serve", "--model", str(trained_run)],
                          input="\n".join([*lines, valid]) + "\n", capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert answers[0]["event"] == "ready"
    replies = answers[1:]
    assert len(replies) == len(lines) + 1, (len(replies), len(lines) + 1)
    assert all(r["event"] == "error" and r["fatal"] is False for r in replies[:-1])
    assert (replies[-1]["event"], replies[-1]["id"]) == ("image", "last")


AVERAGING_SCRIPT = r"""
import json, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras, numpy as np
from blendercnn_addon.ml.callbacks import AveragedWeights

class Seen(keras.callbacks.Callback):  # what validation and the checkpoints see
    def on_test_end(self, logs=None):
        seen["validated"].append(float(self.model.trainable_variables[0].numpy()[0, 0]))
    def on_train_batch_end(self, batch, logs=None):
        seen["trained"].append(float(self.model.trainable_variables[0].numpy()[0, 0]))
    def on_epoch_end(self, epoch, logs=None):
        seen["at_epoch_end"].append(float(self.model.trainable_variables[0].numpy()[0, 0]))

keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
x = np.ones((4, 1), np.float32)
seen = {"validated": [], "trained": [], "at_epoch_end": []}
averaging = AveragedWeights(0.5)
model.fit(x, 2 * x, batch_size=1, epochs=2, validation_data=(x, 2 * x), shuffle=False, verbose=0,
          callbacks=[Seen(), averaging])  # the averaging last, as train.py places it
print(json.dumps({**seen, "after": float(model.trainable_variables[0].numpy()[0, 0])}))
"""


def test_validation_and_checkpoints_see_the_weights_moving_average_and_training_goes_on_from_its_own():
    """AveragedWeights: after step t the average is m_t * average + (1 - m_t) * weight with
    m_t = min(momentum, (1 + t) / (10 + t)); validation and the epoch's other callbacks see the
    average; the next epoch trains on from the trained weights, not the average."""
    done = subprocess.run([tensorflow_python(), "-c", AVERAGING_SCRIPT], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    average, expected = 0.0, []
    for step, weight in enumerate(seen["trained"], start=1):
        momentum = min(0.5, (1 + step) / (10 + step))
        average = momentum * average + (1 - momentum) * weight
        if step % 4 == 0:
            expected.append(average)
    assert seen["validated"] == pytest.approx(expected, rel=1e-5)
    assert seen["at_epoch_end"] == pytest.approx(expected, rel=1e-5)  # the checkpoints save the average
    assert seen["validated"][1] != pytest.approx(seen["trained"][3])  # the average, not the last step
    assert seen["trained"][4] > seen["trained"][3]  # epoch 2 trained on from epoch 1's own weights ...
    assert seen["trained"][4] > seen["validated"][0]  # ... which lead the (lagging) average
    assert seen["after"] == pytest.approx(seen["trained"][-1])
    assert "retracing" not in done.stderr  # a tf.function per training warned on stderr from the fifth on
