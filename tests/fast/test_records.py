"""The records every part of the project reads through one place: the dataset card, the run config
and its recipe, the run folder's files, the architecture list."""

import ast
import json
import os
import zipfile

import pytest

from blendercnn_addon import architectures
from blendercnn_addon.dataset_card import CARD_FORMAT, DatasetCard, DatasetIdentity
from blendercnn_addon.errors import UserError
from blendercnn_addon.run_config import RunConfig, embed_in_model, read_run_config, write_run_config
from conftest import ROOT

PACKAGE = os.path.join(ROOT, "blendercnn_addon")


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


# Older cards repeated the identity's seed (randomization), view transform (color_management) and names (scene).
SAID_TWICE = ("randomization", "color_management", "scene")


def test_an_older_card_reads_and_writes_back_the_same_layout_saying_each_fact_once():
    card = DatasetCard.from_dict(OLDER_CARD)
    assert card.identity.range_of("x") == (-1.0, 1.0) and card.identity.exclude_quadrant is None
    assert card.scene.emission_strength == 300.0 and card.scene.world_radiance == 0.05
    written = card.to_dict()
    recorded_since = ("exclude_quadrant", "first_index")  # not in that card: written as not recorded
    assert all(written["identity"][k] is None for k in recorded_since)
    assert {k: v for k, v in written["identity"].items() if k not in recorded_since} == OLDER_CARD["identity"]
    assert card.identity.numbering() == 0  # that folder counts from sample_0
    assert {k: v for k, v in written.items() if k not in ("identity", *SAID_TWICE)} == {
        k: v for k, v in OLDER_CARD.items() if k not in ("identity", *SAID_TWICE)}
    assert "randomization" not in written and written["color_management"] == {}  # the identity says them
    assert written["scene"] == {k: v for k, v in OLDER_CARD["scene"].items() if k not in ("object", "material", "node")}
    assert DatasetCard.from_dict(written) == card


def test_every_part_of_the_card_is_a_typed_record_and_no_fact_is_said_twice():
    from dataclasses import fields

    from blendercnn_addon.dataset_card import ColourRecord, FilesRecord, RenderRecord, SceneFacts

    kinds = {f.name: f.type for f in fields(DatasetCard)}
    assert "dict" not in " ".join(map(str, kinds.values())), kinds
    identity_keys = set(DatasetIdentity().to_dict())
    for record in (RenderRecord, ColourRecord, SceneFacts):
        repeated = identity_keys & {f.name for f in fields(record)}
        assert repeated == set(), f"{record.__name__} repeats the identity's {repeated}"
    assert {f.name for f in fields(FilesRecord)} >= {"images", "metadata", "vectors", "view_transform", "geometry"}


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
    # settings it does not record were not there yet: the run trained with any gain counted, no rate floor,
    # its last step's weights, on whole images
    assert (config.recipe.min_improvement_db, config.recipe.lr_reductions, config.recipe.weight_averaging,
            config.recipe.tile_fraction) == (0.0, 0, 0.0, 1)
    assert config.recipe.batch_size == 8 and config.features.ball_disc and config.features.scene_light
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
def _models_source(name="models.py"):
    return ast.parse(open(os.path.join(PACKAGE, "ml", name), encoding="utf-8").read())


def test_every_architecture_has_its_builder_and_its_resolution_rule_matches_the_model():
    tree = _models_source()
    functions = {node.name for source in (tree, _models_source("field_model.py")) for node in source.body
                 if isinstance(node, ast.FunctionDef)}
    constants = {node.targets[0].id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Constant)}
    for record in architectures.ARCHITECTURES.values():
        assert record.builder in functions, f"models.py has no {record.builder}"
    assert architectures.SEED.resolution_multiple == 2 ** constants["SEED_UPSAMPLINGS"]
    assert architectures.RADIANCE.resolution_multiple == constants["RADIANCE_START_FRACTION"]


def test_the_recipe_depends_on_the_resolution_and_training_takes_it_from_the_dataset():
    """radiance: batches of 16 below 256², 8 from 256² on (time_to_quality at 256²), twice as wide
    there; a given size wins."""
    from blendercnn_addon.run_config import TrainingRecipe

    radiance, seed = architectures.RADIANCE, architectures.SEED
    assert radiance.recipe(64) == {"batch_size": 16, "learning_rate": 0.003, "tile_fraction": 1, "width": 1}
    assert radiance.recipe(255)["batch_size"] == 16 and radiance.recipe(256)["batch_size"] == 8
    assert radiance.recipe(256)["tile_fraction"] == radiance.big_image_tile_fraction
    assert radiance.recipe(255)["width"] == 1 and radiance.recipe(256)["width"] == radiance.recipe(512)["width"] == 2
    assert seed.recipe(64) == seed.recipe(1024) == {"batch_size": 32, "learning_rate": 1e-3, "tile_fraction": 1,
                                                    "width": 1}
    assert architectures.recipe("unknown", 256) == seed.recipe(256)
    auto = TrainingRecipe()
    assert (auto.batch_size, auto.learning_rate) == (None, None)  # nothing chosen before the dataset is known
    assert auto.for_dataset(True, 256).batch_size == 8 and auto.for_dataset(True, 64).batch_size == 16
    assert auto.for_dataset(False, 256).arch == "seed" and auto.for_dataset(False, 256).batch_size == 32
    assert auto.for_dataset(True, 64).tile_fraction == 1 and auto.for_dataset(False, 256).tile_fraction == 1
    given = TrainingRecipe(arch="radiance", batch_size=12, learning_rate=0.01, tile_fraction=2).for_dataset(True, 256)
    assert (given.batch_size, given.learning_rate, given.tile_fraction) == (12, 0.01, 2)
    with pytest.raises(UserError, match="unknown architecture 'big'"):
        TrainingRecipe(arch="big").validate()
    assert "radiance 16 (8 from 256²)" in " ".join(_train_help("batch_size").split())


def test_the_width_is_the_recipes_unless_given_recorded_and_only_radiance_takes_another():
    """width: radiance's channels' multiple; 1 below 256², 2 from 256²; old configs trained at 1."""
    from blendercnn_addon.run_config import RunConfig, TrainingRecipe

    auto = TrainingRecipe()
    assert auto.width is None
    assert auto.for_dataset(True, 64).width == 1 and auto.for_dataset(True, 256).width == 2
    assert auto.for_dataset(False, 256).width == 1  # seed, the architecture for datasets without a view table
    assert auto.for_dataset(True, 256, ball_room=False).width == 1  # field, for the user's own parameters
    assert TrainingRecipe(arch="radiance", width=3).for_dataset(True, 64).width == 3
    with pytest.raises(UserError, match="the seed architecture is built at width 1 only, got 2"):
        TrainingRecipe(arch="seed", width=2).for_dataset(True, 256)
    with pytest.raises(UserError, match="width must be 1 or more, got 0"):
        TrainingRecipe(width=0).validate()
    resumed = TrainingRecipe().filled_from(TrainingRecipe(arch="radiance", width=1))
    assert resumed.for_dataset(True, 256).width == 1  # a resumed run keeps the width it was built at
    assert TrainingRecipe.from_dict({"arch": "radiance"}).width == 1  # written before width was recorded
    config = RunConfig(resolution=256, recipe=TrainingRecipe(arch="radiance", width=2).for_dataset(True, 256))
    assert RunConfig.from_dict(config.to_dict()).recipe.width == 2
    assert "2 from 256²" in " ".join(_train_help("width").split())


def _train_help(dest: str) -> str:
    from blendercnn_addon.cli import build_parser

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    return next(action for action in train._actions if action.dest == dest).help


def test_a_card_from_an_older_version_accepts_settings_it_never_recorded(tmp_path):
    import json

    from blendercnn_addon.dataset_card import CARD_FORMAT, DatasetIdentity
    from blendercnn_addon.dataset_format import DatasetFolder
    from blendercnn_addon.errors import UserError

    folder = DatasetFolder(str(tmp_path))
    old_identity = {"seed": 0, "resolution": 32, "render_samples": 32, "denoiser": "none"}
    (tmp_path / "dataset.json").write_text(json.dumps({"format": CARD_FORMAT, "identity": old_identity}))
    identity = DatasetIdentity.from_dict({**old_identity, "sampling_pattern": "TABULATED_SOBOL"})
    folder.check_can_hold(identity, 10)  # not recorded then: fine
    with pytest.raises(UserError, match=r"differs in: render_samples"):
        folder.check_can_hold(DatasetIdentity.from_dict({**old_identity, "render_samples": 3,
                                                         "sampling_pattern": "BLUE_NOISE"}), 10)
