"""What must work without Blender: ml/ and the core modules it uses; vectors are pure functions of (seed, i).
(Which modules may import Blender at all: tests/fast/test_layers.py.)"""

import subprocess
import sys


from conftest import ROOT

def run_without_bpy(code, *args):
    """Run ``code`` in a fresh Python where ``import bpy`` fails, as in a TensorFlow-only environment."""
    blocker = "import sys; sys.modules['bpy'] = None; sys.modules['bmesh'] = None\n"
    return subprocess.run([sys.executable, "-c", blocker + code, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_ml_contact_sheet_runs_without_bpy(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    from PIL import Image

    for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        Image.new("RGB", (32, 32), colour).save(folder / f"sample_{i}.png")
    (folder / "metadata.json").write_text(
        '{"sample_0": [1, 0, 0, 0.1, 0.2], "sample_1": [0, 1, 0, 0, 0], "sample_2": [0, 0, 1, -1, 1]}')
    code = ("import runpy, sys; sys.argv[0] = 'contact_sheet'; "
            "runpy.run_module('blendercnn_addon.ml.contact_sheet', run_name='__main__')")
    done = run_without_bpy(code, str(folder), "--out", str(tmp_path / "sheet.png"), "--columns", "3", "--tile", "32")
    assert done.returncode == 0, done.stderr
    sheet = Image.open(tmp_path / "sheet.png").convert("RGB")
    assert sheet.size == (96, 32 + 14)
    assert sheet.getpixel((16, 16)) == (255, 0, 0) and sheet.getpixel((80, 16)) == (0, 0, 255)


def test_ml_reports_a_missing_dataset_in_one_line(tmp_path):
    code = "import sys; from blendercnn_addon.ml.contact_sheet import main; sys.exit(main(sys.argv[1:]))"
    done = run_without_bpy(code, str(tmp_path), "--out", str(tmp_path / "x.png"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"contact_sheet: error: no dataset in {tmp_path}: metadata.json not found"


def test_generate_without_bpy_says_how_to_get_it(tmp_path):
    code = "import sys; from blendercnn_addon.cli import main; sys.exit(main(sys.argv[1:]))"
    done = run_without_bpy(code, "generate", "--out", str(tmp_path / "ds"), "--count", "2")
    assert done.returncode == 2 and "needs Blender's bpy module" in done.stderr
    assert not (tmp_path / "ds").exists()
