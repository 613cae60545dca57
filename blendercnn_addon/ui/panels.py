"""The BlenderCNN tab in the 3D viewport's sidebar (N panel)."""

from __future__ import annotations

import bpy

from .. import renderer
from ..errors import UserError
from ..text import format_duration


class _BlenderCNNPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "BlenderCNN"


class BLENDERCNN_PT_scene(_BlenderCNNPanel, bpy.types.Panel):
    bl_label = "Scene"
    bl_idname = "BLENDERCNN_PT_scene"

    def draw(self, context):
        layout = self.layout
        props = context.scene.blendercnn
        layout.operator("blendercnn.setup_scene", icon="SCENE_DATA")
        col = layout.column(align=True)
        col.prop(props, "target_object")
        col.prop(props, "target_material")
        material = props.target_material or bpy.data.materials.get("Glow")
        if material is not None and material.node_tree is not None:
            col.prop_search(props, "node_name", material.node_tree, "nodes")
        else:
            col.prop(props, "node_name")
        try:
            renderer.resolve_target(context.scene, props.target_names())
        except UserError as err:
            layout.label(text=str(err), icon="ERROR")


class BLENDERCNN_PT_randomize(_BlenderCNNPanel, bpy.types.Panel):
    bl_label = "Randomize"
    bl_idname = "BLENDERCNN_PT_randomize"

    def draw(self, context):
        layout = self.layout
        props = context.scene.blendercnn
        row = layout.row(align=True)
        row.prop(props, "x_min")
        row.prop(props, "x_max")
        row = layout.row(align=True)
        row.prop(props, "y_min")
        row.prop(props, "y_max")
        layout.prop(props, "colour_scheme")
        layout.prop(props, "randomize_seed")
        layout.operator("blendercnn.randomize", icon="FILE_REFRESH")
        try:
            target = renderer.resolve_target(context.scene, props.target_names())
        except UserError:
            return
        col = layout.column(align=True)
        col.prop(target.colour_input, "default_value", text="Colour")
        row = col.row(align=True)
        row.prop(target.obj, "location", index=0, text="X")
        row.prop(target.obj, "location", index=1, text="Y")


class BLENDERCNN_PT_dataset(_BlenderCNNPanel, bpy.types.Panel):
    bl_label = "Dataset"
    bl_idname = "BLENDERCNN_PT_dataset"

    def draw(self, context):
        layout = self.layout
        props = context.scene.blendercnn
        status = context.window_manager.blendercnn_status
        col = layout.column(align=True)
        col.enabled = not status.running
        col.prop(props, "output_dir")
        col.prop(props, "count")
        col.prop(props, "resolution")
        col.prop(props, "render_samples")
        col.prop(props, "denoiser")
        col.prop(props, "seed")
        if status.running:
            layout.progress(factor=status.fraction, type="BAR",
                            text=f"{status.done} / {status.total} · ETA {format_duration(status.eta_seconds)}")
            layout.operator("blendercnn.cancel_generation", icon="CANCEL")
        else:
            layout.operator("blendercnn.generate_dataset", icon="RENDER_STILL")
        if status.message:
            layout.label(text=status.message, icon="INFO")


CLASSES = (BLENDERCNN_PT_scene, BLENDERCNN_PT_randomize, BLENDERCNN_PT_dataset)
