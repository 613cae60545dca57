"""Every bad input is refused with one readable line, a non-zero exit, and nothing written."""

import json
import os

import bpy
import pytest

from conftest import TINY, run_cli


def snapshot(root):
    """Every path under ``root`` with its size and modification time."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            stat = os.stat(path)
            found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "a_file.txt").write_text("not a folder\n")
    (tmp_path / "not_a_blend.blend").write_text("hello\n")
    # A valid header, then garbage: passes the magic-bytes check, Blender itself refuses it.
    (tmp_path / "damaged.blend").write_bytes(b"BLENDER-v502RENDH" + bytes(range(256)) * 40)
    (tmp_path / "someone_elses").mkdir()
    (tmp_path / "someone_elses" / "notes.txt").write_text("keep me\n")
    return tmp_path


CASES = [
    # (id, extra args, expected message fragment); "{w}" is the workspace folder
    ("out-is-a-file", ["--out", "{w}/a_file.txt"], "output path is a file"),
    ("out-under-a-file", ["--out", "{w}/a_file.txt/ds"], "cannot be created"),
    ("out-not-writable", ["--out", "/proc/blendercnn_ds"], "not writable"),
    ("count-zero", ["--count", "0"], "count must be at least 1"),
    ("count-negative", ["--count", "-5"], "count must be at least 1"),
    ("count-not-a-number", ["--count", "many"], "invalid int value"),
    ("resolution-too-small", ["--resolution", "15"], "between 16 and 4096"),
    ("resolution-too-large", ["--resolution", "4097"], "between 16 and 4096"),
    ("samples-zero", ["--samples", "0"], "samples must be at least 1"),
    ("x-range-reversed", ["--x-range", "1", "-1"], "x range is empty"),
    ("x-range-infinite", ["--x-range", "0", "inf"], "x range must be finite numbers"),
    ("y-range-absurd", ["--y-range", "0", "1e300"], "reaches beyond"),
    ("out-empty", ["--out", ""], "--out is empty"),
    ("too-big-for-the-disk", ["--count", "10000000", "--resolution", "4096"], "not enough disk space"),
    ("blend-damaged", ["--blend", "{w}/damaged.blend"], "Blender cannot open"),
    ("y-range-reversed", ["--y-range", "0.5", "0.2"], "y range is empty"),
    ("missing-object", ["--object", "Lamp"], "object 'Lamp' not found"),
    ("missing-material", ["--material", "Neon"], "material 'Neon' not found"),
    ("missing-node", ["--node", "Glowy"], "no node named 'Glowy'"),
    ("node-without-colour", ["--node", "Material Output"], "no emission colour input"),
    ("blend-missing", ["--blend", "{w}/nowhere.blend"], "blend file not found"),
    ("blend-not-a-blend", ["--blend", "{w}/not_a_blend.blend"], "not a .blend file"),
    ("blend-is-a-folder", ["--blend", "{w}/someone_elses"], "not a file"),
    ("folder-holds-other-files", ["--out", "{w}/someone_elses"], "holds no BlenderCNN dataset"),
    ("unknown-colour-scheme", ["--colour-scheme", "red"], "invalid choice: 'red'"),
    ("unknown-option", ["--brightness", "3"], "unrecognized arguments"),
]


@pytest.mark.parametrize("args, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cli_refuses_bad_input(workspace, args, message):
    args = [a.replace("{w}", str(workspace)) for a in args]
    if "--out" not in args:
        args = ["--out", str(workspace / "new_ds"), *args]
    before = snapshot(workspace)
    done = run_cli("generate", "--count", "2", *TINY, *args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert lines[0].startswith("blendercnn_addon: error: ")
    assert snapshot(workspace) == before, "bad input wrote something"


def test_cli_refuses_a_folder_with_a_different_dataset_and_leaves_it_intact(tmp_path):
    out = tmp_path / "ds"
    assert run_cli("generate", "--out", str(out), "--count", "3", "--seed", "1", *TINY).returncode == 0
    before = snapshot(tmp_path)
    done = run_cli("generate", "--out", str(out), "--count", "3", "--seed", "2", *TINY)
    assert done.returncode == 2
    assert "holds a different dataset (differs in: seed)" in done.stderr
    again = run_cli("generate", "--out", str(out), "--count", "3", "--seed", "1", "--resolution", "48",
                    "--samples", "4", "--denoiser", "none")
    assert again.returncode == 2 and "differs in: resolution" in again.stderr
    fewer = run_cli("generate", "--out", str(out), "--count", "2", "--seed", "1", *TINY)
    assert fewer.returncode == 2 and "more than the 2 asked for" in fewer.stderr
    assert snapshot(tmp_path) == before


def test_growing_a_finished_dataset_renders_only_the_new_samples(tmp_path):
    out = tmp_path / "ds"
    assert run_cli("generate", "--out", str(out), "--count", "2", *TINY).returncode == 0
    grown = run_cli("generate", "--out", str(out), "--count", "4", *TINY)
    assert grown.returncode == 0 and "2 rendered now, 2 already there" in grown.stdout
    assert len(json.loads((out / "metadata.json").read_text())) == 4


def test_cli_help_documents_every_option():
    done = run_cli("generate", "--help")
    assert done.returncode == 0
    for option in ("--out", "--count", "--resolution", "--samples", "--seed", "--blend", "--scene", "--object",
                   "--material", "--node", "--denoiser", "--x-range", "--y-range", "--colour-scheme"):
        assert option in done.stdout
    # every help line is text, not argparse's internals (a bare % in a help string garbles them)
    assert "20 % slower" in " ".join(done.stdout.split()) and "option_strings" not in done.stdout


def test_operator_reports_bad_settings_and_writes_nothing(seed_scene, tmp_path):
    props = seed_scene.blendercnn
    props.output_dir = str(tmp_path / "ds")
    props.count, props.resolution = 2, 32
    props.node_name = "Nope"
    with pytest.raises(RuntimeError, match="no node named 'Nope'"):
        bpy.ops.blendercnn.generate_dataset()
    assert "Error: material 'Glow' has no node named 'Nope'" == bpy.context.window_manager.blendercnn_status.message
    assert os.listdir(tmp_path) == []


def test_a_count_of_a_billion_is_refused_before_any_per_image_memory(tmp_path):
    """The space check comes before anything sized by the count (the indices to render are a range
    and the finished set, dataset_format.PendingIndices): a billion images at 16² is refused in one
    line with the process's peak memory under 2 GB (before: 12.9 GB after 75 s, still growing)."""
    import subprocess
    import sys

    from conftest import ROOT

    measure = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + '\\n'); "
               "sys.stderr.write(done.stderr); sys.exit(done.returncode)")
    done = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "blendercnn_addon", "generate",
                           "--out", str(tmp_path / "ds"), "--count", "1000000000", "--resolution", "16",
                           "--samples", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "not enough disk space" in lines[0], done.stderr
    peak_kib = int(done.stdout.strip())
    assert peak_kib < 2 * 1024 * 1024, f"peak memory {peak_kib / 1024:.0f} MiB"
    assert not (tmp_path / "ds").exists()


def test_the_panel_refuses_a_billion_images_at_once_inside_blender(seed_scene, tmp_path):
    """The same refusal in Blender's own process (the user's unsaved scene is there): before, the
    index list grew by gigabytes before the disk check."""
    import resource
    import time

    props = seed_scene.blendercnn
    props.output_dir = str(tmp_path / "ds")
    props.resolution = 16
    props.count = 1_000_000_000
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.monotonic()
    with pytest.raises(RuntimeError, match="not enough disk space"):
        bpy.ops.blendercnn.generate_dataset()
    assert time.monotonic() - began < 30
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kib < 512 * 1024, "memory grew"
    assert os.listdir(tmp_path) == []
