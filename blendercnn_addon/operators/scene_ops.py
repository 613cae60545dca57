"""Set Up Scene and Randomize."""

from __future__ import annotations

import bpy

from .. import renderer
from ..errors import UserError
from ..randomization import sample_vector
from ..scene_setup import build_seed_scene
from ..vector import colour_of, position_of


class BLENDERCNN_OT_setup_scene(bpy.types.Operator):
    """Build the seed's glowing-ball room in this scene (running it again resets it, never duplicates)"""

    bl_idname = "blendercnn.setup_scene"
    bl_label = "Set Up Scene"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        result = build_seed_scene(context.scene)
        props = context.scene.blendercnn
        props.target_object = result.ball
        props.target_material = result.ball.active_material
        props.node_name = "Emission"
        hidden = []
        if result.hidden_collections:
            hidden.append(f"{result.hidden_collections} other collection(s) excluded")
        if result.hidden_objects:
            hidden.append(f"{result.hidden_objects} loose object(s) hidden from render")
        extra = f" ({'; '.join(hidden)} — re-enable them in the Outliner)" if hidden else ""
        self.report({"INFO"}, f"BlenderCNN scene ready, view transform {result.view_transform}{extra}")
        return {"FINISHED"}


class BLENDERCNN_OT_randomize(bpy.types.Operator):
    """Give the ball a random colour and X, Y position within the panel's ranges"""

    bl_idname = "blendercnn.randomize"
    bl_label = "Randomize"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        props = context.scene.blendercnn
        try:
            spec = props.vector_spec()
            spec.validate()
            target = renderer.resolve_target(context.scene, props.target_names())
        except UserError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        vector = sample_vector(props.randomize_seed, props.randomize_clicks, spec)
        renderer.apply_vector(target, vector)
        props.randomize_clicks += 1
        colour, position = colour_of(vector), position_of(vector)
        self.report({"INFO"}, f"Colour ({', '.join(f'{c:.2f}' for c in colour)}), "
                              f"position ({', '.join(f'{p:.2f}' for p in position)})")
        return {"FINISHED"}


CLASSES = (BLENDERCNN_OT_setup_scene, BLENDERCNN_OT_randomize)
