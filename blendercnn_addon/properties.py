"""Blender properties behind the panel.

``scene.blendercnn`` (saved with the .blend): the target, the randomisation ranges
and the dataset settings. ``window_manager.blendercnn_status`` (never saved): the
progress of a running job, which the panel draws.
"""

from __future__ import annotations

import bpy
from bpy.props import (BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty,
                       StringProperty)

from .randomization import VectorSpec
from .settings import MAX_RESOLUTION, MIN_RESOLUTION, GenerationSettings, SceneTarget

COLOUR_SCHEME_ITEMS = (
    ("vibrant", "Vibrant", "The seed's scheme: one channel 1, one 0, one random"),
    ("uniform", "Uniform RGB", "Each of R, G, B uniform in [0, 1]"),
)
DENOISER_ITEMS = (
    ("none", "None", "No denoising (the seed's setting)"),
    ("auto", "Auto", "OpenImageDenoise when this Blender has it, else none"),
    ("oidn", "OpenImageDenoise", "Intel OpenImageDenoise (CPU)"),
    ("optix", "OptiX", "NVIDIA OptiX (needs an NVIDIA GPU)"),
)


def _objects_in_scene(self, obj):
    return obj.name in bpy.context.scene.objects if bpy.context.scene else True


class BlenderCNNSceneSettings(bpy.types.PropertyGroup):
    """Per-scene settings (``scene.blendercnn``)."""

    target_object: PointerProperty(
        name="Object", type=bpy.types.Object, poll=_objects_in_scene,
        description="Object whose X, Y position each sample sets (empty: the object named 'Ball')")
    target_material: PointerProperty(
        name="Material", type=bpy.types.Material,
        description="Material whose emission colour each sample sets (empty: the material named 'Glow')")
    node_name: StringProperty(
        name="Node", default="Emission",
        description="Node in that material whose Color (or Emission Color) input takes the sample's RGB")

    x_min: FloatProperty(name="X min", default=-1.0, unit="LENGTH", description="Lowest ball X (m)")
    x_max: FloatProperty(name="X max", default=1.0, unit="LENGTH", description="Highest ball X (m)")
    y_min: FloatProperty(name="Y min", default=-1.0, unit="LENGTH", description="Lowest ball Y (m)")
    y_max: FloatProperty(name="Y max", default=1.0, unit="LENGTH", description="Highest ball Y (m)")
    colour_scheme: EnumProperty(name="Colours", items=COLOUR_SCHEME_ITEMS, default="vibrant")
    randomize_seed: IntProperty(name="Seed", default=0, min=0,
                                description="Randomize draws vector #Clicks of this seed: reproducible")
    randomize_clicks: IntProperty(name="Clicks", default=0, min=0,
                                  description="How many times Randomize was used (the next vector's index)")

    output_dir: StringProperty(
        name="Output", subtype="DIR_PATH", default="",
        description="Dataset folder (empty: 'datasets/dataset' in the add-on's user folder)")
    count: IntProperty(name="Samples", default=10_000, min=1, soft_max=100_000,
                       description="Number of images to render")
    resolution: IntProperty(name="Resolution", default=256, min=MIN_RESOLUTION, max=MAX_RESOLUTION,
                            subtype="PIXEL", description="Square image size in pixels")
    render_samples: IntProperty(name="Render Samples", default=32, min=1, soft_max=4096,
                                description="Cycles samples per pixel")
    seed: IntProperty(name="Dataset Seed", default=0, min=0,
                      description="Sample i's vector and noise depend on (seed, i) only")
    denoiser: EnumProperty(name="Denoiser", items=DENOISER_ITEMS, default="none")

    def target_names(self) -> SceneTarget:
        """Names the generator resolves; empty pointers fall back to the seed's names."""
        return SceneTarget(
            object_name=self.target_object.name if self.target_object else "Ball",
            material_name=self.target_material.name if self.target_material else "Glow",
            node_name=self.node_name,
        )

    def vector_spec(self) -> VectorSpec:
        return VectorSpec((self.x_min, self.x_max), (self.y_min, self.y_max), self.colour_scheme)

    def generation_settings(self, out_dir: str) -> GenerationSettings:
        return GenerationSettings(
            out_dir=out_dir, count=self.count, resolution=self.resolution, samples=self.render_samples,
            seed=self.seed, denoiser=self.denoiser, vectors=self.vector_spec(), target=self.target_names())


class BlenderCNNJobStatus(bpy.types.PropertyGroup):
    """Progress of the running dataset job (``window_manager.blendercnn_status``)."""

    running: BoolProperty(name="Running", default=False)
    cancel_requested: BoolProperty(name="Cancel Requested", default=False)
    done: IntProperty(name="Done", default=0)
    total: IntProperty(name="Total", default=0)
    eta_seconds: FloatProperty(name="ETA", default=-1.0, unit="TIME_ABSOLUTE")
    seconds_per_image: FloatProperty(name="Seconds per Image", default=-1.0)
    message: StringProperty(name="Message", default="")
    last_output: StringProperty(name="Last Output", subtype="DIR_PATH", default="")

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


CLASSES = (BlenderCNNSceneSettings, BlenderCNNJobStatus)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.blendercnn = PointerProperty(type=BlenderCNNSceneSettings)
    bpy.types.WindowManager.blendercnn_status = PointerProperty(type=BlenderCNNJobStatus)


def unregister() -> None:
    del bpy.types.WindowManager.blendercnn_status
    del bpy.types.Scene.blendercnn
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
