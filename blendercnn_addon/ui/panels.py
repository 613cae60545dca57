"""The BlenderCNN tab in the 3D viewport's sidebar (N panel)."""

from __future__ import annotations

import bpy

from .. import renderer
from ..architectures import ARCHITECTURES, PREFERRED
from ..preferences import preferences
from ..training_session import resumable_run
from .interpreter import draw_interpreter
from ..errors import UserError
from ..settings import estimate_basis, estimate_seconds
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
        groups = (
            ("output_dir", "count", "resolution", "seed"),
            ("render_preset", "render_samples", "denoiser",
             *(("denoise_quality", "denoise_prefilter", "denoise_passes") if props.denoiser != "none" else ()),
             "sampling_pattern"),
            ("render_device", "workers"),
        )
        for names in groups:  # what the dataset is, how it is rendered, where: locked while rendering
            col = layout.column(align=True)
            col.enabled = not status.running
            for name in names:
                col.prop(props, name)
        note = gpu_note(props.render_device)
        if note:
            layout.label(text=note, icon="ERROR")
        default = ARCHITECTURES[PREFERRED]
        if default.resolution_problem(props.resolution):
            layout.label(text=f"{default.label} trains only multiples of {default.resolution_multiple}", icon="ERROR")
        if status.running:
            layout.progress(factor=status.fraction, type="BAR",
                            text=f"{status.done} / {status.total} · ETA {format_duration(status.eta_seconds)}")
            layout.operator("blendercnn.cancel_generation", icon="CANCEL")
        else:
            settings = props.generation_settings("-")
            layout.label(text=f"≈ {format_duration(estimate_seconds(settings))} for {props.count:,} images"
                              f"{estimate_basis(settings)}", icon="TIME")
            layout.operator("blendercnn.generate_dataset", icon="RENDER_STILL")
        if status.message:
            layout.label(text=status.message, icon="INFO")


_GPU_NOTES: dict[str, str] = {}


def gpu_note(device: str) -> str:
    """'No CUDA GPU found: …' when the chosen device is missing (probed once per session and choice)."""
    if device == "CPU":
        return ""
    if device not in _GPU_NOTES:
        _backend, gpus = renderer.find_gpus(device)
        wanted = "GPU chosen in Preferences" if device == "PREFERENCES" else f"{device} GPU"
        _GPU_NOTES[device] = "" if gpus else f"No {wanted} here: the CPU renders"
    return _GPU_NOTES[device]


def _figure(value: float, fmt: str) -> str:
    """A status figure, or an en dash while it is unknown (-1)."""
    return "–" if value < 0 else format(value, fmt)


def _draw_log_tail(layout, text: str) -> None:
    box = layout.box()
    for line in text.splitlines()[-6:]:
        box.label(text=line[:120])


def _draw_training_progress(layout, status) -> None:
    """Device, epoch and batch bars, the latest figures, and Cancel."""
    layout.label(text=f"Device: {status.device or 'starting…'}")
    layout.progress(factor=status.epoch_fraction, type="BAR", text=f"Epoch {status.epoch} / {status.epochs}")
    layout.progress(factor=status.batch_fraction, type="BAR",
                    text=f"Batch {status.batch} / {status.batches} · loss {_figure(status.loss, '.5f')}")
    grid = layout.grid_flow(columns=2, even_columns=True)
    grid.label(text=f"Val loss {_figure(status.val_loss, '.5f')}")
    grid.label(text=f"Val PSNR {_figure(status.val_psnr, '.2f')} dB")
    grid.label(text=f"Elapsed {format_duration(status.elapsed_s)}")
    grid.label(text=f"ETA {format_duration(status.eta_s)}")
    if status.stopping:
        layout.label(text="Stopping after this batch…", icon="TIME")
    else:
        layout.operator("blendercnn.cancel_training", icon="CANCEL")


class BLENDERCNN_PT_train(_BlenderCNNPanel, bpy.types.Panel):
    bl_label = "Train"
    bl_idname = "BLENDERCNN_PT_train"

    def draw(self, context):
        layout = self.layout
        props = context.scene.blendercnn
        status = context.window_manager.blendercnn_training
        draw_interpreter(layout, context, preferences(context))
        col = layout.column(align=True)
        col.enabled = not status.running
        col.prop(props, "train_data_dir")
        col.prop(props, "run_dir")
        col.prop(props, "architecture")
        col.prop(props, "epochs")
        col.prop(props, "batch_size")
        col.prop(props, "learning_rate")
        col.prop(props, "patience")
        col.prop(props, "train_seed")
        if status.running:
            _draw_training_progress(layout, status)
        else:
            row = layout.row(align=True)
            row.operator("blendercnn.train", icon="PLAY").resume = False

            if resumable_run(context):
                row.operator("blendercnn.train", text="Resume", icon="RECOVER_LAST").resume = True
        if status.message:
            layout.label(text=status.message, icon="INFO")
        if status.error:
            layout.label(text=status.error, icon="ERROR")
            if status.log_tail:
                _draw_log_tail(layout, status.log_tail)
        row = layout.row(align=True)
        if status.tensorboard_url:
            row.operator("blendercnn.open_tensorboard", text=status.tensorboard_url, icon="URL")
            row.operator("blendercnn.stop_tensorboard", text="", icon="X")
        else:
            row.operator("blendercnn.open_tensorboard", icon="GRAPH")


class BLENDERCNN_PT_preview(_BlenderCNNPanel, bpy.types.Panel):
    bl_label = "Preview"
    bl_idname = "BLENDERCNN_PT_preview"

    def draw(self, context):
        layout = self.layout
        props = context.scene.blendercnn
        status = context.window_manager.blendercnn_preview
        layout.prop(props, "preview_model")
        row = layout.row(align=True)
        row.operator("blendercnn.load_preview", icon="FILE_REFRESH" if status.state != "OFF" else "IMPORT",
                     text="Reload Model" if status.state != "OFF" else "Load Model")
        row.operator("blendercnn.unload_preview", text="", icon="X")
        if status.state == "READY":
            layout.label(text=f"Model ready on {status.device}: {status.resolution}×{status.resolution}"
                              f" · last image {_figure(status.latency_ms, '.0f')} ms", icon="CHECKMARK")
        elif status.state == "LOADING":
            layout.label(text="Loading the model…", icon="TIME")
        if status.message:
            layout.label(text=status.message, icon="ERROR" if status.state == "ERROR" else "INFO")
        layout.prop(props, "preview_follow_scene")
        col = layout.column(align=True)
        col.prop(status, "preview_colour")
        row = col.row(align=True)
        for index, channel in enumerate("RGB"):  # typed values, beside the picker
            row.prop(status, "preview_colour", index=index, text=channel)
        row = col.row(align=True)
        row.prop(status, "preview_x")
        row.prop(status, "preview_y")
        layout.label(text="Shown in the Image Editor as 'BlenderCNN Preview'", icon="IMAGE_DATA")
        layout.operator("blendercnn.render_real", icon="RENDER_STILL")
        if status.real_psnr >= 0:
            layout.label(text=f"Real vs model: PSNR {status.real_psnr:.2f} dB")
        col = layout.column(align=True)
        col.prop(props, "estimate_image")
        col.operator("blendercnn.estimate_from_image", icon="EYEDROPPER")
        if status.estimate:
            layout.label(text=status.estimate)
        layout.operator("blendercnn.evaluate", icon="VIEWZOOM")
        if status.evaluation:
            layout.label(text=status.evaluation)


CLASSES = (BLENDERCNN_PT_scene, BLENDERCNN_PT_randomize, BLENDERCNN_PT_dataset, BLENDERCNN_PT_train,
           BLENDERCNN_PT_preview)
