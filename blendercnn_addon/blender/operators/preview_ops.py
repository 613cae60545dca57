"""Load Model, Unload, Render Real, Estimate from Image, Evaluate: the Preview panel's buttons. The work is
in preview_session.py, real_render.py and evaluation_session.py."""

from __future__ import annotations

import bpy

import bpy.props

from .. import background
from ...errors import UserError
from ..images import OWN_IMAGES, show_in_an_image_editor
from ..evaluation_session import start_evaluation
from ..preview_session import load_preview
from ..real_render import estimate_from_image, show_real_render


class BLENDERCNN_OT_load_preview(bpy.types.Operator):
    """Load the trained model in a background process and show its image for the vector below"""

    bl_idname = "blendercnn.load_preview"
    bl_label = "Load Model"

    def execute(self, context):
        try:
            load_preview(context)
        except UserError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        return {"FINISHED"}


class BLENDERCNN_OT_unload_preview(bpy.types.Operator):
    """Stop the preview process and free its memory"""

    bl_idname = "blendercnn.unload_preview"
    bl_label = "Unload"

    @classmethod
    def poll(cls, context):
        return background.running("preview")

    def execute(self, context):
        background.stop("preview")
        return {"FINISHED"}


class BLENDERCNN_OT_render_real(bpy.types.Operator):
    """Render the actual scene at the preview's vector into 'BlenderCNN Real' and compare it with the model"""

    bl_idname = "blendercnn.render_real"
    bl_label = "Render Real"

    def execute(self, context):
        try:
            line = show_real_render(context)
        except UserError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        self.report({"INFO"}, line)
        return {"FINISHED"}


class BLENDERCNN_OT_estimate_from_image(bpy.types.Operator):
    """Find the ball's colour and place that the loaded model draws as the chosen picture; move the ball
    and set its emission colour to them (undoable)"""

    bl_idname = "blendercnn.estimate_from_image"
    bl_label = "Estimate from Image"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return background.running("preview")

    def execute(self, context):
        try:
            line = estimate_from_image(context)
        except UserError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        self.report({"WARNING" if "poor" in line or "explains the picture poorly" in line else "INFO"}, line)
        return {"FINISHED"}


class BLENDERCNN_OT_evaluate(bpy.types.Operator):
    """Measure the model on its held-out validation samples: metrics and a real | generated | difference grid"""

    bl_idname = "blendercnn.evaluate"
    bl_label = "Evaluate"

    @classmethod
    def poll(cls, context):
        return not background.running("evaluate")

    def execute(self, context):
        try:
            start_evaluation(context)
        except UserError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        return {"FINISHED"}


class BLENDERCNN_OT_show_image(bpy.types.Operator):
    """Show this image of the add-on in an Image Editor (the one already showing the add-on's images)"""

    bl_idname = "blendercnn.show_image"
    bl_label = "Show Image"

    name: bpy.props.EnumProperty(name="Image", items=[(n, n, "") for n in OWN_IMAGES])

    def execute(self, context):
        image = bpy.data.images.get(self.name)
        if image is None:
            self.report({"ERROR"}, f"there is no {self.name} yet")
            return {"CANCELLED"}
        if not show_in_an_image_editor(image):
            self.report({"ERROR"}, f"open an Image Editor to see {self.name} (Shift+F10 over any editor)")
            return {"CANCELLED"}
        return {"FINISHED"}


class BLENDERCNN_OT_use_model_resolution(bpy.types.Operator):
    """Set the scene's output resolution to the model's (R × R at 100 %): the size BlenderCNN renders"""

    bl_idname = "blendercnn.use_model_resolution"
    bl_label = "Use the Model's Resolution"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        from ...run_config import read_run_config
        from ..preview_session import run_folder

        run = run_folder(context.scene)
        try:
            if not run:
                raise UserError("choose the model's run folder first (Model)")
            resolution = read_run_config(run).resolution
        except UserError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        render = context.scene.render
        render.resolution_x = render.resolution_y = resolution
        render.resolution_percentage = 100
        self.report({"INFO"}, f"Output resolution {resolution}×{resolution} at 100 %")
        return {"FINISHED"}


CLASSES = (BLENDERCNN_OT_show_image, BLENDERCNN_OT_use_model_resolution, BLENDERCNN_OT_load_preview, BLENDERCNN_OT_unload_preview, BLENDERCNN_OT_render_real,
           BLENDERCNN_OT_estimate_from_image, BLENDERCNN_OT_evaluate)
