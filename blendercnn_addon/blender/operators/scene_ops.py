"""Set Up Scene and Randomize."""

from __future__ import annotations

import bpy

from .. import renderer
from ...errors import UserError
from ...demo_scenes import DEMO_SCENES
from ...randomization import sample_vector
from ..scene_setup import build_demo_scene


VIEWPORT_SAMPLES = 16  # Cycles samples of the viewport's Rendered shading: the ball's colour, at once


def show_as_rendered(context) -> int:
    """Every 3D viewport of the current screen shows the scene as it will render: Rendered shading
    (few samples) through the scene's camera. Returns how many viewports it changed."""
    scene = context.scene
    if hasattr(scene, "cycles"):
        scene.cycles.preview_samples = VIEWPORT_SAMPLES
    changed = 0
    for area in context.screen.areas if context.screen else ():
        if area.type != "VIEW_3D":
            continue
        space = area.spaces.active
        space.shading.type = "RENDERED"
        if scene.camera is not None:
            space.region_3d.view_perspective = "CAMERA"
        area.tag_redraw()
        changed += 1
    return changed


class BLENDERCNN_OT_setup_scene(bpy.types.Operator):
    """Build the scene chosen above (the seed's glowing-ball room, or a demonstration scene with its
    parameters) in this scene; running it again resets it, never duplicates. The first time, the 3D
    viewport shows it as it will render"""

    bl_idname = "blendercnn.setup_scene"
    bl_label = "Set Up Scene"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        props = context.scene.blendercnn
        result = build_demo_scene(context.scene, props.demo_scene)
        props.fill_parameters(DEMO_SCENES[props.demo_scene].parameters)
        props.target_object = result.ball
        props.target_material = result.ball.active_material
        props.node_name = "Emission"
        if not props.viewport_prepared:  # the first set-up only: later, the user's own shading stays
            props.viewport_prepared = show_as_rendered(context) > 0
        hidden = []
        if result.hidden_collections:
            hidden.append(f"{result.hidden_collections} other collection(s) excluded")
        if result.hidden_objects:
            hidden.append(f"{result.hidden_objects} loose object(s) hidden from render")
        extra = f" ({'; '.join(hidden)} — re-enable them in the Outliner)" if hidden else ""
        self.report({"INFO"}, f"BlenderCNN scene ready, view transform {result.view_transform}{extra}")
        return {"FINISHED"}


class BLENDERCNN_OT_randomize(bpy.types.Operator):
    """Give every parameter a random value: the ball's colour and X, Y, or the Parameters list's, within
    their ranges"""

    bl_idname = "blendercnn.randomize"
    bl_label = "Randomize"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        props = context.scene.blendercnn
        try:
            spec = props.vector_spec()
            spec.validate()
            target = renderer.resolve_target(context.scene, props.target_names(), spec.layout)
        except UserError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        vector = sample_vector(props.randomize_seed, props.randomize_clicks, spec)
        renderer.apply_vector(target, vector)
        props.randomize_clicks += 1
        self.report({"INFO"}, f"Randomized: {spec.layout.describe(vector)}")
        return {"FINISHED"}


CLASSES = (BLENDERCNN_OT_setup_scene, BLENDERCNN_OT_randomize)
