"""The contracts where they meet Blender and the field's tools: the panel's and the CLI's architecture
choices, Generate's warning, the dataset folder as Hugging Face datasets loads it. (The contracts
themselves: tests/fast/.)"""

import json
import os
import subprocess

from blendercnn_addon import architectures
from conftest import TINY, addon_module, run_cli, tensorflow_python


def test_the_panel_and_the_cli_offer_exactly_the_registered_architectures(addon):
    properties = addon_module("blender.properties")
    assert [item[0] for item in properties.ARCHITECTURE_ITEMS] == list(architectures.ARCHITECTURES)
    import bpy

    enum = bpy.types.Scene.bl_rna.properties["blendercnn"].fixed_type.properties["architecture"]
    assert [item.identifier for item in enum.enum_items] == list(architectures.ARCHITECTURES)
    from blendercnn_addon.cli import build_parser

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    arch = next(action for action in train._actions if action.dest == "arch")
    assert set(arch.choices) == {*architectures.ARCHITECTURES, architectures.AUTO}
    for record in architectures.ARCHITECTURES.values():
        assert record.description in arch.help


def test_generate_warns_before_rendering_when_the_default_architecture_cannot_train_the_resolution(tmp_path):
    assert architectures.default_resolution_problem(256) is None
    problem = architectures.default_resolution_problem(20)
    assert "divisible by 8" in problem and "no architecture here can" in problem
    done = run_cli("generate", "--out", str(tmp_path / "ds"), "--count", "1", *TINY, "--resolution", "20")
    assert done.returncode == 0, done.stderr  # a warning, not a refusal: the images are still good
    assert done.stderr.startswith("warning: the radiance architecture needs a resolution divisible by 8")
    card = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert any("default architecture cannot train" in note for note in card["notes"])


# -- the dataset folder in the field's tools ----------------------------------------------------
def test_hugging_face_datasets_loads_the_folder_as_images_with_their_vectors(tmp_path):
    folder = tmp_path / "ds"
    done = run_cli("generate", "--out", str(folder), "--count", "5", *TINY)
    assert done.returncode == 0, done.stderr
    code = ("import json, sys; from datasets import load_dataset; "
            "ds = load_dataset('imagefolder', data_dir=sys.argv[1], split='train'); "
            "print(json.dumps({'columns': ds.column_names, 'rows': [[r[k] for k in 'rgbxy'] for r in ds], "
            "'sizes': sorted({r['image'].size for r in ds})}))")
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    loaded = subprocess.run([tensorflow_python(), "-c", code, str(folder)], capture_output=True, text=True,
                            env=env, timeout=300)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    result = json.loads(loaded.stdout.strip().splitlines()[-1])
    print("HF datasets:", result["columns"], len(result["rows"]), "rows, sizes", result["sizes"])
    assert result["columns"] == ["image", "r", "g", "b", "x", "y"]
    metadata = json.loads((folder / "metadata.json").read_text())
    assert sorted(map(tuple, result["rows"])) == sorted(map(tuple, metadata.values()))
    assert result["sizes"] == [[32, 32]]
