"""The view transform baked by Blender into a 3-D table reproduces Blender's own display images."""

import os
import sys

import bpy
import numpy as np
import pytest
from PIL import Image

from conftest import TINY, run_cli

pytestmark = pytest.mark.compat  # also run on every Blender of make test-compat


def test_the_baked_table_turns_a_linear_render_into_the_png(addon, seed_scene, tmp_path):
    renderer = sys.modules[addon.__name__ + ".blender.renderer"]
    view_lut = sys.modules[addon.__name__ + ".view_lut"]
    settings_module = sys.modules[addon.__name__ + ".settings"]
    table = renderer.bake_view_transform(seed_scene)
    assert table.shape == (65, 65, 65, 3) and table.dtype == np.float32
    assert table[0, 0, 0].max() < 0.01 and table[-1, -1, -1].min() > 0.99  # black stays black, white saturates
    settings = settings_module.GenerationSettings(out_dir="-", resolution=32, samples=4, denoiser="none")
    renderer.configure_render(seed_scene, settings, "none")
    target = renderer.resolve_target(seed_scene, settings.target)
    renderer.apply_vector(target, (0.2, 1.0, 0.6, -0.3, 0.5))
    renderer.render_still(seed_scene, str(tmp_path / "display.png"), noise_seed=11, quiet=True)
    seed_scene.render.image_settings.file_format = "OPEN_EXR"  # the same render (same seed), linear
    seed_scene.render.image_settings.color_depth = "32"
    renderer.render_still(seed_scene, str(tmp_path / "linear.exr"), noise_seed=11, quiet=True)
    exr = bpy.data.images.load(str(tmp_path / "linear.exr"))
    pixels = np.empty(32 * 32 * 4, np.float32)
    exr.pixels.foreach_get(pixels)
    bpy.data.images.remove(exr)
    linear = pixels.reshape(32, 32, 4)[::-1, :, :3]  # Blender's rows run bottom to top
    assert linear.max() > 50, "no bright ball in the linear render: the comparison would be void"
    display = np.asarray(Image.open(tmp_path / "display.png").convert("RGB")) / 255.0
    through_table = view_lut.apply(table, linear)
    psnr = 10 * np.log10(1.0 / np.mean((through_table - display) ** 2))
    assert psnr > 45, f"table reproduces the PNG at only {psnr:.1f} dB"
    assert np.abs(through_table - display).max() < 6 / 255  # dither is the only difference


def test_generate_stores_the_table_and_records_it_in_the_card(tmp_path):
    out = tmp_path / "ds"
    assert run_cli("generate", "--out", str(out), "--count", "1", *TINY).returncode == 0
    table = np.load(out / "view_transform_lut.npy")
    assert table.shape == (65, 65, 65, 3)
    import json

    card = json.loads((out / "dataset.json").read_text())
    assert card["files"]["view_transform"] == "view_transform_lut.npy" and card["color_management"]["lut"]["size"] == 65
    assert card["identity"]["view_transform"] == "Filmic"
    assert card["files"]["geometry"] == "scene_geometry.npz" and (out / "scene_geometry.npz").exists()
    assert not [n for n in os.listdir(out) if n.endswith(".partial")]


def test_world_radiance_is_read_from_a_constant_background_only(addon, seed_scene):
    renderer = sys.modules[addon.__name__ + ".blender.renderer"]
    assert renderer.world_radiance(seed_scene) == pytest.approx(0.05)  # the set-up world: 0.05 grey × 1
    background = next(n for n in seed_scene.world.node_tree.nodes if n.type == "BACKGROUND")
    background.inputs["Strength"].default_value = 4.0
    assert renderer.world_radiance(seed_scene) == pytest.approx(0.2)
    sky = seed_scene.world.node_tree.nodes.new("ShaderNodeTexSky")
    link = seed_scene.world.node_tree.links.new(sky.outputs["Color"], background.inputs["Color"])
    assert renderer.world_radiance(seed_scene) is None  # not a constant: no ceiling
    seed_scene.world.node_tree.links.remove(link)
    seed_scene.world.node_tree.nodes.remove(sky)
    background.inputs["Strength"].default_value = 1.0
