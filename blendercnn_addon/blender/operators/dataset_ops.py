"""Generate Dataset (modal in a window, blocking when called from a script) and Cancel."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty

from .. import status_bar
from ..compat import is_own_timer_event
from ...errors import UserError
from ..generator import DatasetJob, make_job
from ...png_check import DamagedImage
from ...recommendation import SEED_COUNT
from ..paths import resolve_output_dir
from ..training_session import start_training

TIMER_SECONDS = 0.01  # a render (or, with workers, a look at their progress) per tick; Blender redraws between


def _publish(status, job: DatasetJob, message: str | None = None) -> None:
    """Copy a job's progress into ``window_manager.blendercnn_status`` for the panel."""
    status.done = job.done
    status.total = job.total
    eta = job.eta_seconds()
    per_image = job.seconds_per_image()
    status.eta_seconds = -1.0 if eta is None else eta
    status.seconds_per_image = -1.0 if per_image is None else per_image
    if message is not None:
        status.message = message


def _redraw_panels(context) -> None:
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


def _summary(job: DatasetJob, cancelled: bool) -> str:
    """The panel's short form, figures first: 'Finished · 400/400 · 294 new'."""
    return f"{'Cancelled' if cancelled else 'Finished'} · {job.done}/{job.total} · {job.rendered_now} new"


def _report(job: DatasetJob, cancelled: bool) -> str:
    """The full sentence for Blender's report (Info editor, status bar)."""
    verb = "Cancelled" if cancelled else "Finished"
    return (f"{verb}: {job.done}/{job.total} samples in {job.folder.path} "
            f"({job.rendered_now} rendered now)")


class BLENDERCNN_OT_generate_dataset(bpy.types.Operator):
    """Render the dataset into the output folder; re-run with the same settings to resume"""

    bl_idname = "blendercnn.generate_dataset"
    bl_label = "Generate Dataset"

    then_train: BoolProperty(
        name="And Train", default=False, options={"SKIP_SAVE"},
        description="Train as it renders: start the Train panel's training on this folder now; each epoch "
                    "takes the images finished so far, and training goes on over all of them once rendering ends")

    _job: DatasetJob | None = None
    _timer = None

    @classmethod
    def poll(cls, context):
        return not context.window_manager.blendercnn_status.running

    def _make_job(self, context) -> DatasetJob:
        props = context.scene.blendercnn
        settings = props.generation_settings(resolve_output_dir(props.output_dir))
        return make_job(context.scene, settings, quiet=True, background=True)

    def _start(self, context) -> DatasetJob | None:
        status = context.window_manager.blendercnn_status
        try:
            job = self._make_job(context)  # UserError for a Parameters row that is not one
        except UserError as err:
            self.report({"ERROR"}, str(err))
            status.message = f"Error: {err}"
            return None
        try:
            job.start()
        except (UserError, OSError, DamagedImage) as err:
            err = job.explain(err)
            job.finish()  # releases the folder's lock if the start got that far
            self.report({"ERROR"}, str(err))
            status.message = f"Error: {err}"
            return None
        if self.then_train:
            try:
                start_training(context, resume=False, follow_data=job.folder.path)
            except UserError as err:  # before the first render: nothing to undo but the lock
                job.finish()
                self.report({"ERROR"}, str(err))
                status.message = f"Error: {err}"
                return None
        for note in job.notes:
            self.report({"WARNING"}, note)
        status.cancel_requested = False
        _publish(status, job, f"Rendering into {job.folder.path}")
        return job

    def execute(self, context):
        """Blocking path (scripts, the bpy module): render everything, then return."""
        status = context.window_manager.blendercnn_status
        job = self._start(context)
        if job is None:
            return {"CANCELLED"}
        try:
            try:
                while not job.finished:
                    job.step(timeout=0.5)
                    _publish(status, job)
            finally:
                job.finish()
        except (UserError, OSError, DamagedImage) as err:
            self.report({"ERROR"}, str(job.explain(err)))
            return {"CANCELLED"}
        status.message = _summary(job, cancelled=False)
        self.report({"INFO"}, _report(job, cancelled=False))
        return {"FINISHED"}

    def invoke(self, context, event):
        """Window path: one render per timer tick, Esc or the Cancel button stop cleanly."""
        job = self._start(context)
        if job is None:
            return {"CANCELLED"}
        self._job = job
        context.window_manager.blendercnn_status.running = True
        self._timer = context.window_manager.event_timer_add(TIMER_SECONDS, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        status = context.window_manager.blendercnn_status
        if event.type == "ESC" or status.cancel_requested:
            return self._stop(context, cancelled=True)
        if not is_own_timer_event(event, self._timer):
            return {"PASS_THROUGH"}
        try:
            finished = self._job.step()
        except (UserError, OSError, DamagedImage) as err:
            self.report({"ERROR"}, str(self._job.explain(err)))
            return self._stop(context, cancelled=True)
        except Exception as err:  # never leave the panel stuck in "running" after a bug or a render crash
            self.report({"ERROR"}, f"Dataset generation stopped: {type(err).__name__}: {err}")
            return self._stop(context, cancelled=True)
        if finished:
            _publish(status, self._job)
            status_bar.update("generate", status.fraction)
            _redraw_panels(context)
        if self._job.finished:
            return self._stop(context, cancelled=False)
        return {"RUNNING_MODAL"}

    def cancel(self, context):
        """Called by Blender when it ends the modal operator itself (file load, window closed)."""
        self._stop(context, cancelled=True)

    def _stop(self, context, cancelled: bool):
        context.window_manager.event_timer_remove(self._timer)
        status = context.window_manager.blendercnn_status
        self._job.finish()
        status_bar.end("generate")
        _publish(status, self._job, _summary(self._job, cancelled))
        status.running = False
        status.cancel_requested = False
        self.report({"WARNING" if cancelled else "INFO"}, _report(self._job, cancelled) + self._job.worker_summary())
        _redraw_panels(context)
        return {"CANCELLED"} if cancelled else {"FINISHED"}


class BLENDERCNN_OT_cancel_generation(bpy.types.Operator):
    """Stop dataset generation after the current image; finished images are kept and a re-run resumes"""

    bl_idname = "blendercnn.cancel_generation"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context):
        return context.window_manager.blendercnn_status.running

    def execute(self, context):
        context.window_manager.blendercnn_status.cancel_requested = True
        return {"FINISHED"}


class BLENDERCNN_OT_use_seed_count(bpy.types.Operator):
    """Render as many images as the seed project did (10,000) instead of the measured recommendation"""

    bl_idname = "blendercnn.use_seed_count"
    bl_label = "Use the Seed's Count"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        context.scene.blendercnn.count = SEED_COUNT  # as typed: a new resolution keeps it
        return {"FINISHED"}


CLASSES = (BLENDERCNN_OT_generate_dataset, BLENDERCNN_OT_cancel_generation, BLENDERCNN_OT_use_seed_count)
