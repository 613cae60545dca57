"""``export``: a trained model as ONNX (run here by onnxruntime, without TensorFlow) and as a SavedModel."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, run_cli
from test_ml import one_line_error, seed_run, tiny_dataset, trained_run  # noqa: F401  (module fixtures)

VECTORS = [[1.0, 0.4, 0.1, 0.3, -0.2], [0.2, 0.9, 0.6, -0.7, 0.5], [0.0, 0.0, 1.0, 0.9, 0.9]]


def figures(stdout: str) -> dict:
    return dict(line.split(": ", 1) for line in stdout.strip().splitlines())


def keras_images(run, tmp_path) -> np.ndarray:
    """The 8-bit images ``predict`` writes for VECTORS, (3, R, R, 3)."""
    csv = tmp_path / "vectors.csv"
    csv.write_text("name,r,g,b,x,y\n" + "".join(f"v{n}," + ",".join(map(str, v)) + "\n" for n, v in enumerate(VECTORS)))
    done = run_cli("predict", "--model", str(run), "--vectors", str(csv), "--out", str(tmp_path / "keras"))
    assert done.returncode == 0, done.stderr
    return np.stack([np.asarray(Image.open(tmp_path / "keras" / f"v{n}.png")) for n in range(len(VECTORS))])


@pytest.mark.parametrize("which", ["radiance", "seed"])
def test_onnx_export_draws_what_keras_draws(which, trained_run, seed_run, tmp_path):  # noqa: F811
    """onnxruntime, in this process (no TensorFlow here), against the PNGs Keras's predict writes.
    radiance exports with its per-pixel layers fused by XLA (BLENDERCNN_XLA=1, as at 64² and up):
    a compiled call is an op ONNX lacks, so the export must run them op by op."""
    import onnx
    import onnxruntime

    run = trained_run if which == "radiance" else seed_run
    out = tmp_path / "exported.onnx"
    done = run_cli("export", "--model", str(run), "--format", "onnx", "--out", str(out),
                   env={"BLENDERCNN_XLA": "1"} if which == "radiance" else None)
    assert done.returncode == 0, done.stderr
    assert float(figures(done.stdout)["parity_psnr_db"]) >= 60
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["vector"] and [o.name for o in session.get_outputs()] == ["image"]
    drawn = session.run(["image"], {"vector": np.array(VECTORS, np.float32)})[0]
    assert drawn.shape == (3, 32, 32, 3)
    expected = keras_images(run, tmp_path).astype(np.float64)
    mse = np.mean((np.rint(drawn * 255) - expected) ** 2) / 255 ** 2
    assert mse == 0 or 10 * np.log10(1 / mse) >= 60, mse
    metadata = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    config = json.loads(metadata["blendercnn_run_config"])
    assert (config["arch"], config["resolution"], metadata["blendercnn_vector"]) == (which, 32, "r,g,b,x,y")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported.onnx", "keras", "vectors.csv"]


def test_readme_onnx_snippet_runs_as_written(seed_run, tmp_path):  # noqa: F811
    """The README's onnxruntime lines, run as they stand in a folder holding model.onnx."""
    done = run_cli("export", "--model", str(seed_run), "--out", str(tmp_path / "model.onnx"))
    assert done.returncode == 0, done.stderr
    readme = open(f"{ROOT}/README.md", encoding="utf-8").read()
    snippet = next(block for block in re.findall(r"```python\n(.*?)```", readme, re.S) if "onnxruntime" in block)
    assert len(snippet.strip().splitlines()) <= 10
    ran = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert Image.open(tmp_path / "ball.png").size == (32, 32)


def test_savedmodel_export_is_checked_and_replaces_an_earlier_one(seed_run, tmp_path):  # noqa: F811
    out = tmp_path / "saved"
    for _ in range(2):  # the second export replaces the first whole
        done = run_cli("export", "--model", str(seed_run), "--format", "savedmodel", "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert float(figures(done.stdout)["parity_psnr_db"]) >= 60
    assert (out / "saved_model.pb").is_file() and (out / "variables").is_dir()
    assert json.loads((out / "blendercnn_run_config.json").read_text())["arch"] == "seed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved"], "no temporary folder left"


@pytest.mark.parametrize("args, fragment", [
    (["--format", "gltf"], "unknown --format 'gltf'"),
    (["--out", "{tmp}/missing/model.onnx"], "the folder of --out does not exist"),
    (["--out", "{tmp}"], "is a folder; name the .onnx file"),
    (["--model", "{tmp}/no-run"], "no trained model"),
], ids=["format", "missing-folder", "folder-as-file", "no-model"])
def test_export_refuses_bad_requests_in_one_line(seed_run, tmp_path, args, fragment):  # noqa: F811
    argv = ["export", "--model", str(seed_run)] + [a.format(tmp=tmp_path) for a in args]
    if "--model" in args:
        argv = ["export"] + [a.format(tmp=tmp_path) for a in args] + ["--out", str(tmp_path / "m.onnx")]
    one_line_error(run_cli(*argv), fragment)
    assert list(tmp_path.iterdir()) == []
