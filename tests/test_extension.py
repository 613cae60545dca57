"""The built zip installs like Preferences ▸ Install from Disk, and registers and unregisters cleanly."""

import zipfile

import bpy
import pytest

from conftest import ADDON_MODULE

pytestmark = pytest.mark.compat  # also run on every Blender of make test-compat

OPERATORS = {"setup_scene", "randomize", "generate_dataset", "cancel_generation", "train", "cancel_training",
             "open_tensorboard", "stop_tensorboard", "load_preview", "unload_preview", "render_real", "evaluate",
             "estimate_from_image", "use_seed_count", "use_model_resolution",
             "check_interpreter", "create_environment", "show_image", "parameter_add_button", "parameter_add",
             "parameter_remove", "parameter_move", "parameters_preset"}
PANELS = {"BLENDERCNN_PT_scene", "BLENDERCNN_PT_randomize", "BLENDERCNN_PT_dataset", "BLENDERCNN_PT_dataset_render",
          "BLENDERCNN_PT_train", "BLENDERCNN_PT_train_settings", "BLENDERCNN_PT_preview"}


def registered_operators() -> set[str]:
    return {name.removeprefix("BLENDERCNN_OT_") for name in dir(bpy.types) if name.startswith("BLENDERCNN_OT_")}


def registered_panels() -> set[str]:
    return {name for name in dir(bpy.types) if name.startswith("BLENDERCNN_PT_")}


def engine_registered() -> bool:
    """BlenderCNN in the render-engine list, with its Render Properties panel."""
    engines = {getattr(engine, "bl_idname", "") for engine in bpy.types.RenderEngine.__subclasses__()}
    return "BLENDERCNN" in engines and hasattr(bpy.types, "RENDER_PT_blendercnn")


def test_zip_holds_the_add_on_and_its_manifest_only(extension_zip):
    names = zipfile.ZipFile(extension_zip).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert "ml/__init__.py" in names and "blender/operators/__init__.py" in names and "blender/ui/panels.py" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/") or n.endswith(".whl")]


def test_install_registers_every_operator_and_panel(addon):
    assert registered_operators() == OPERATORS
    assert registered_panels() == PANELS
    assert engine_registered()
    assert hasattr(bpy.types.Scene, "blendercnn")
    assert hasattr(bpy.types.WindowManager, "blendercnn_status")
    for panel in PANELS:
        cls = getattr(bpy.types, panel)
        assert (cls.bl_space_type, cls.bl_region_type, cls.bl_category) == ("VIEW_3D", "UI", "BlenderCNN")


def test_disable_unregisters_everything_and_enable_restores_it(addon):
    bpy.ops.preferences.addon_disable(module=ADDON_MODULE)
    try:
        assert registered_operators() == set()
        assert registered_panels() == set()
        assert not engine_registered()
        assert not hasattr(bpy.types.Scene, "blendercnn")
        assert not hasattr(bpy.types.WindowManager, "blendercnn_status")
    finally:
        bpy.ops.preferences.addon_enable(module=ADDON_MODULE)
    assert registered_operators() == OPERATORS
    assert registered_panels() == PANELS
    assert engine_registered()


@pytest.mark.parametrize("op", sorted(OPERATORS))
def test_operators_have_descriptions(addon, op):
    cls = getattr(bpy.types, f"BLENDERCNN_OT_{op}")
    assert cls.bl_idname == f"blendercnn.{op}"
    assert (cls.__doc__ or "").strip(), f"{op} needs a docstring: Blender shows it as the tooltip"
