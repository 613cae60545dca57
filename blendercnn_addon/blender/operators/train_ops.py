"""Train, Cancel Training, Open and Stop TensorBoard: the buttons. The work is in training_session.py."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty

from .. import background
from ...errors import UserError
from ..training_session import open_tensorboard, start_training


class BLENDERCNN_OT_train(bpy.types.Operator):
    """Train a model on the dataset in a separate TensorFlow process; progress shows in this panel"""

    bl_idname = "blendercnn.train"
    bl_label = "Train"

    resume: BoolProperty(name="Resume", default=False, options={"SKIP_SAVE"},
                         description="Continue the run from its last finished epoch")

    @classmethod
    def poll(cls, context):
        return not background.running("train")

    def execute(self, context):
        try:
            run_dir = start_training(context, self.resume)
        except UserError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Training into {run_dir}")
        return {"FINISHED"}


class BLENDERCNN_OT_cancel_training(bpy.types.Operator):
    """Stop training after the current batch; the best model so far is kept and the run can be resumed"""

    bl_idname = "blendercnn.cancel_training"
    bl_label = "Cancel Training"

    @classmethod
    def poll(cls, context):
        return background.running("train")

    def execute(self, context):
        background.get("train").request_stop()
        return {"FINISHED"}


class BLENDERCNN_OT_open_tensorboard(bpy.types.Operator):
    """Start TensorBoard on this run's logs (localhost only) and open it in the web browser"""

    bl_idname = "blendercnn.open_tensorboard"
    bl_label = "Open TensorBoard"

    open_browser: BoolProperty(default=True, options={"SKIP_SAVE", "HIDDEN"})

    @classmethod
    def poll(cls, context):
        return bool(context.window_manager.blendercnn_training.run_dir or context.scene.blendercnn.run_dir)

    def execute(self, context):
        try:
            url = open_tensorboard(context, self.open_browser)
        except UserError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        self.report({"INFO"}, f"TensorBoard at {url}")
        return {"FINISHED"}


class BLENDERCNN_OT_stop_tensorboard(bpy.types.Operator):
    """Stop the TensorBoard server"""

    bl_idname = "blendercnn.stop_tensorboard"
    bl_label = "Stop TensorBoard"

    @classmethod
    def poll(cls, context):
        return background.running("tensorboard")

    def execute(self, context):
        background.get("tensorboard").worker.terminate()
        return {"FINISHED"}


CLASSES = (BLENDERCNN_OT_train, BLENDERCNN_OT_cancel_training, BLENDERCNN_OT_open_tensorboard,
           BLENDERCNN_OT_stop_tensorboard)
