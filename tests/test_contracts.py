"""The code's contracts, each in one place: the vector, the dataset card, the run config, the
architecture list; the layering (no import cycles, bpy only where allowed); the dataset folder
as the field's tools load it (Hugging Face datasets)."""

import ast
import json
import os
import subprocess
import zipfile

import pytest

from blendercnn_addon import architectures, vector
from blendercnn_addon.dataset_card import CARD_FORMAT, DatasetCard, DatasetIdentity
from blendercnn_addon.errors import UserError
from blendercnn_addon.run_config import RunConfig, embed_in_model, read_run_config, write_run_config
from conftest import ROOT, TINY, addon_module, run_cli, tensorflow_python

PACKAGE = os.path.join(ROOT, "blendercnn_addon")


# -- the vector ---------------------------------------------------------------------------------
def test_the_vector_layout_is_spelled_out_once():
    assert vector.VECTOR_FIELDS == ("r", "g", "b", "x", "y") and vector.VECTOR_SIZE == 5
    assert vector.COLOUR_FIELDS == ("r", "g", "b") and vector.POSITION_FIELDS == ("x", "y")
    made = vector.make_vector((1, 0.5, 0), (0.25, -0.75))
    assert made == (1.0, 0.5, 0.0, 0.25, -0.75)
    assert vector.colour_of(made) == (1.0, 0.5, 0.0) and vector.position_of(made) == (0.25, -0.75)
    assert vector.vector_bounds((-1, 1), (-2, 0.5)) == ([0.0, 0.0, 0.0, -1.0, -2.0], [1.0, 1.0, 1.0, 1.0, 0.5])


def test_no_module_spells_out_the_vector_layout_again():
    """No bare 5, 3:5 or "rgbxy" for the vector outside vector.py (the grep of the closing note)."""
    pattern_hits = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py") or name == "vector.py":
                continue
            text = open(os.path.join(folder, name), encoding="utf-8").read()
            for needle in ("3:5", "[:3]", '"rgbxy"', "shape=(5,)", "(None, 5)", "len(v) != 5", "(1, 5)"):
                if needle in text and not (needle == "[:3]" and _only_non_vector_uses(text)):
                    pattern_hits.append(f"{name}: {needle}")
    assert pattern_hits == []


def _only_non_vector_uses(text):
    """``[:3]`` also takes RGB of an RGBA pixel or a version tuple: allowed where that is what it does."""
    return all(any(k in line for k in ("default_value", "version_info", "rgba", "saved[:3]", "shape[:3]",
                                       "problems[:3]"))
               for line in text.splitlines() if "[:3]" in line)


@pytest.mark.parametrize("values, message", [
    (["1", "0", "0.5", "0.2"], "five numbers r,g,b,x,y; got 4"),
    (["1", "0", "nan", "0", "0"], "NaN or infinity"),
    (["a", "b", "c", "d", "e"], "five numbers"),
    ([1.5, 0, 0, 0, 0], "outside [0, 1]"),
])
def test_a_bad_vector_gets_one_clear_message(values, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        vector.check_vector(values, [0, 0, 0, -1, -1], [1, 1, 1, 1, 1])


def test_positions_outside_the_trained_range_and_json_that_is_not_numbers_are_refused():
    with pytest.raises(UserError, match="y = 2.0 is outside the range the model was trained on"):
        vector.check_vector([1, 0, 0, 0, 2], [0, 0, 0, -1, -1], [1, 1, 1, 1, 1])
    for bad in ("1,0,0,0,0", [True, False, False, 0, 0], None, {"r": 1}):
        with pytest.raises(UserError, match="JSON list of five numbers"):
            vector.vector_from_json(bad)
    assert vector.vector_from_json([1, 0, 0.5, 0, 0]) == [1.0, 0.0, 0.5, 0.0, 0.0]


# -- the dataset card ---------------------------------------------------------------------------
OLDER_CARD = {  # as the version before this module wrote it: no exclude_quadrant, no format_version bump
    "format": CARD_FORMAT, "format_version": 1, "count": 4, "finished": 4, "complete": True,
    "identity": {"seed": 7, "resolution": 32, "render_samples": 4, "denoiser": "none", "denoise_quality": None,
                 "denoise_prefilter": None, "denoise_passes": None, "sampling_pattern": "BLUE_NOISE",
                 "engine": "CYCLES", "view_transform": "Filmic", "look": "None", "exposure": 0.0,
                 "colour_scheme": "vibrant", "x_range": [-1.0, 1.0], "y_range": [-1.0, 1.0],
                 "object": "Ball", "material": "Glow", "node": "Emission"},
    "addon_version": "0.1.0", "blender_version": "5.0.1", "created_utc": "2026-11-24T17:00:00+00:00",
    "updated_utc": "2026-11-24T17:01:00+00:00", "render": {"device": "CPU", "workers": 1},
    "color_management": {"view_transform": "Filmic"}, "randomization": {"seed": 7},
    "vector_fields": ["r", "g", "b", "x", "y"],
    "scene": {"scene": "Scene", "object": "Ball", "material": "Glow", "node": "Emission",
              "emission_strength": 300.0, "world_radiance": 0.05, "camera": "Camera", "blend_file": None},
    "files": {"images": "sample_<i>.png"}, "notes": [],
}


def test_an_older_card_reads_and_writes_back_the_same_layout():
    card = DatasetCard.from_dict(OLDER_CARD)
    assert card.identity.x_range == (-1.0, 1.0) and card.identity.exclude_quadrant is None
    assert card.scene.emission_strength == 300.0 and card.scene.world_radiance == 0.05
    written = card.to_dict()
    assert written["identity"]["exclude_quadrant"] is None
    assert {k: v for k, v in written["identity"].items() if k != "exclude_quadrant"} == OLDER_CARD["identity"]
    assert {k: v for k, v in written.items() if k != "identity"} == {k: v for k, v in OLDER_CARD.items()
                                                                      if k != "identity"}
    assert DatasetCard.from_dict(written) == card


def test_identities_differ_only_in_what_both_record():
    old = DatasetIdentity.from_dict({"seed": 0, "render_samples": 32})
    assert old.differences(DatasetIdentity(seed=0, render_samples=32, sampling_pattern="BLUE_NOISE")) == []
    assert old.differences(DatasetIdentity(seed=0, render_samples=3)) == ["render_samples"]
    assert DatasetIdentity(render_samples=3, denoiser="oidn").render_quality() == {"samples": 3, "denoiser": "oidn"}


@pytest.mark.parametrize("data, message", [
    ({"format": "something else"}, "not a BlenderCNN dataset card"),
    ([1, 2], "not a BlenderCNN dataset card"),
    ({**OLDER_CARD, "format_version": 99}, "newer BlenderCNN"),
    ({**OLDER_CARD, "count": "many"}, "not a readable dataset card"),
])
def test_cards_that_are_not_ours_or_too_new_are_refused(data, message):
    with pytest.raises(UserError, match=message):
        DatasetCard.from_dict(data)


# -- the run config -----------------------------------------------------------------------------
OLDER_CONFIG = {  # config.json as the version before this module wrote it (TrainConfig's fields + extras)
    "data": "/data/ds", "out": "/runs/r", "arch": "radiance", "epochs": 2, "batch_size": 8, "learning_rate": 0.003,
    "validation_fraction": 0.1, "split_seed": 0, "seed": 0, "early_stopping_patience": 5, "lr_patience": 3,
    "time_budget_s": 0.0, "resolution": 32, "vector_fields": ["r", "g", "b", "x", "y"],
    "train_indices": [0, 1, 3], "validation_indices": [2], "vector_min": [0, 0, 0, -1, -1],
    "vector_max": [1, 1, 1, 1, 1], "dataset_identity": OLDER_CARD["identity"], "scene_light": True,
    "ball_disc": True, "addon_version": "0.1.0", "created_utc": "2026-11-24T17:02:00+00:00",
}


def test_an_older_run_config_reads_and_a_config_round_trips(tmp_path):
    config = RunConfig.from_dict(OLDER_CONFIG)
    assert (config.arch, config.resolution, config.validation_indices) == ("radiance", 32, (2,))
    assert config.dataset_identity.seed == 7 and config.dataset_fingerprint is None
    assert config.checked_input(["1", "0", "0", "0.5", "-0.5"]) == [1.0, 0.0, 0.0, 0.5, -0.5]
    write_run_config(str(tmp_path), config)
    again = read_run_config(str(tmp_path))
    assert again == config and json.loads((tmp_path / "config.json").read_text())["format_version"] == 2


def test_a_model_file_that_travels_alone_carries_its_config(tmp_path):
    config = RunConfig.from_dict(OLDER_CONFIG)
    model = tmp_path / "alone.keras"
    with zipfile.ZipFile(model, "w") as archive:  # a .keras file is a zip; Keras ignores members it does not know
        archive.writestr("config.json", "{}")
    embed_in_model(str(model), config)
    assert read_run_config(str(model)) == config
    with pytest.raises(UserError, match="not a trained run folder"):
        read_run_config(str(tmp_path / "nothing.keras"))
    with pytest.raises(UserError, match="newer BlenderCNN"):
        RunConfig.from_dict({**OLDER_CONFIG, "format_version": 9})


# -- the architecture list ----------------------------------------------------------------------
def _models_source():
    return ast.parse(open(os.path.join(PACKAGE, "ml", "models.py"), encoding="utf-8").read())


def test_every_architecture_has_its_builder_and_its_resolution_rule_matches_the_model():
    tree = _models_source()
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    constants = {node.targets[0].id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Constant)}
    for record in architectures.ARCHITECTURES.values():
        assert record.builder in functions, f"models.py has no {record.builder}"
    assert architectures.SEED.resolution_multiple == 2 ** constants["SEED_UPSAMPLINGS"]
    assert architectures.RADIANCE.resolution_multiple == constants["RADIANCE_START_FRACTION"]


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


def test_the_recipe_depends_on_the_resolution_and_training_takes_it_from_the_dataset():
    """radiance: batches of 16 below 256², 8 from 256² on (time_to_quality at 256²); a given size wins."""
    from blendercnn_addon.ml.train import TrainConfig

    radiance, seed = architectures.RADIANCE, architectures.SEED
    assert radiance.recipe(64) == {"batch_size": 16, "learning_rate": 0.003}
    assert radiance.recipe(255)["batch_size"] == 16 and radiance.recipe(256)["batch_size"] == 8
    assert seed.recipe(64) == seed.recipe(1024) == {"batch_size": 32, "learning_rate": 1e-3}
    assert architectures.recipe("unknown", 256) == seed.recipe(256)
    auto = TrainConfig(data="-", out="-")
    assert (auto.batch_size, auto.learning_rate) == (None, None)  # nothing chosen before the dataset is known
    assert auto.for_dataset(True, 256).batch_size == 8 and auto.for_dataset(True, 64).batch_size == 16
    assert auto.for_dataset(False, 256).arch == "seed" and auto.for_dataset(False, 256).batch_size == 32
    given = TrainConfig(data="-", out="-", arch="radiance", batch_size=12, learning_rate=0.01).for_dataset(True, 256)
    assert (given.batch_size, given.learning_rate) == (12, 0.01)
    with pytest.raises(UserError, match="unknown architecture 'big'"):
        TrainConfig(data="-", out="-", arch="big").validate()
    assert "radiance 16 (8 from 256²)" in " ".join(_train_help("batch_size").split())


def _train_help(dest: str) -> str:
    from blendercnn_addon.cli import build_parser

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    return next(action for action in train._actions if action.dest == dest).help


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
