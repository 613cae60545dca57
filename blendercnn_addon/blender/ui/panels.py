"""The BlenderCNN tab in the 3D viewport's sidebar (N panel)."""

from __future__ import annotations

import os

import bpy

from .. import renderer
from ...architectures import ARCHITECTURES, PREFERRED
from ..preferences import preferences
from ..training_session import resumable_run, training_data_dir
from . import fit
from .interpreter import draw_interpreter
from ...dataset_card import CARD_NAME
from ...dataset_format import DatasetFolder
from ...errors import UserError
from ..images import DIFFERENCE_IMAGE, PREVIEW_IMAGE, TRAINING_IMAGE
from ...recommendation import (SEED_COUNT, TOLERANCE_DB, count_note, curve_resolution, preset_count,
                               recommended_count, recommended_preset)
from ...settings import RENDER_PRESETS, estimate_basis, estimate_seconds
from ...text import format_duration
from ...vector import COLOUR_CHANNEL, LOCATION, RANGED_FIELDS
from ..properties import DEMO_SCENE_ITEMS
from ...parameters import default_name, split_path


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
        row = layout.split(factor=0.62, align=True)  # the button wide, the scene's menu beside it
        row.operator("blendercnn.setup_scene", icon="SCENE_DATA")
        row.prop(props, "demo_scene", text="")
        col = fit.split_column(layout)
        fit.field(col, context, self.bl_label, props, "target_object", text="Object")
        fit.field(col, context, self.bl_label, props, "target_material", text="Material")
        material = props.target_material or bpy.data.materials.get("Glow")
        if material is not None and material.node_tree is not None:
            col.prop_search(props, "node_name", material.node_tree, "nodes", text="Node")
        else:
            fit.field(col, context, self.bl_label, props, "node_name", text="Node")
        try:
            renderer.resolve_target(context.scene, props.target_names())
        except UserError as err:
            fit.lines(layout, context, self.bl_label, str(err), icon="ERROR")


class BLENDERCNN_UL_parameters(bpy.types.UIList):
    """The Parameters list: one row per parameter (the ball room's five are one row)."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_property, index=0, flt_flag=0):
        if item.kind == "BALL_ROOM":
            layout.label(text="Ball room: colour, x, y", icon="SHADING_RENDERED")
            return
        name = item.column or _name_of_path(item.data_path)
        if item.kind == "COLOUR":
            layout.label(text=f"{name}: colour", icon="COLOR")
        else:
            layout.label(text=f"{name}: {item.minimum:.3g} .. {item.maximum:.3g}", icon="DRIVER_TRANSFORM")


def _name_of_path(path: str) -> str:
    """The column a data path gets without a name (parameters.default_name), or the path as typed."""
    try:
        return default_name(*split_path(path))
    except UserError:
        return path or "(no data path)"


class BLENDERCNN_MT_parameter_presets(bpy.types.Menu):
    """The demonstration scenes' parameter lists."""

    bl_label = "Parameter Presets"
    bl_idname = "BLENDERCNN_MT_parameter_presets"

    def draw(self, context):
        for name, label, _ in DEMO_SCENE_ITEMS:
            self.layout.operator("blendercnn.parameters_preset", text=label).scene_name = name


class BLENDERCNN_PT_randomize(_BlenderCNNPanel, bpy.types.Panel):
    bl_label = "Randomize"
    bl_idname = "BLENDERCNN_PT_randomize"

    def draw(self, context):
        layout = self.layout
        props = context.scene.blendercnn
        if len(props.parameters):
            _draw_parameter_list(layout, props)
        try:
            layout_of_vector = props.layout()
        except UserError as err:
            fit.lines(layout, context, self.bl_label, str(err), icon="ERROR")
            return
        if any(spec in layout_of_vector.fields for spec in RANGED_FIELDS):
            for spec in RANGED_FIELDS:  # one row per ranged field of the ball room: its min and max
                row = layout.row(align=True)
                row.prop(props, f"{spec.name}_min")
                row.prop(props, f"{spec.name}_max")
        col = fit.split_column(layout)
        fit.field(col, context, self.bl_label, props, "colour_scheme")
        fit.field(col, context, self.bl_label, props, "randomize_seed")
        row = layout.row(align=True)
        row.operator("blendercnn.randomize", icon="FILE_REFRESH")
        if not len(props.parameters):  # the ball room's five: the list's buttons only, no room taken
            row.operator("blendercnn.parameter_add", icon="ADD", text="")
            row.menu("BLENDERCNN_MT_parameter_presets", icon="PRESET", text="")
        try:
            target = renderer.resolve_target(context.scene, props.target_names(), layout_of_vector)
        except UserError as err:
            if len(props.parameters):
                fit.lines(layout, context, self.bl_label, str(err), icon="ERROR")
            return
        _draw_scene_values(layout, target)


def _draw_parameter_list(layout, props) -> None:
    """The list with its buttons, and the selected row's fields (drawn once the list has a row: empty,
    it is the ball room's five, and Randomize's row holds Add and the presets)."""
    row = layout.row()
    row.template_list("BLENDERCNN_UL_parameters", "", props, "parameters", props, "parameter_index", rows=2)
    buttons = row.column(align=True)
    buttons.operator("blendercnn.parameter_add", icon="ADD", text="")
    buttons.operator("blendercnn.parameter_remove", icon="REMOVE", text="")
    buttons.separator()
    buttons.menu("BLENDERCNN_MT_parameter_presets", icon="PRESET", text="")
    buttons.operator("blendercnn.parameter_move", icon="TRIA_UP", text="").step = -1
    buttons.operator("blendercnn.parameter_move", icon="TRIA_DOWN", text="").step = 1
    item = props.parameters[min(props.parameter_index, len(props.parameters) - 1)]
    if item.kind == "BALL_ROOM":
        return
    col = layout.column(align=True)
    col.prop(item, "data_path", text="")
    row = col.row(align=True)
    row.prop(item, "column")
    if item.kind == "PROPERTY":
        row = col.row(align=True)
        row.prop(item, "minimum")
        row.prop(item, "maximum")


def _draw_scene_values(layout, target) -> None:
    """The scene's vector now, editable: the ball room's colour and x, y, then each picked parameter."""
    col = layout.column(align=True)
    fields = target.layout.fields
    if any(f.kind == COLOUR_CHANNEL and not f.data_path for f in fields):
        col.prop(target.colour_input, "default_value", text="")
        row = col.row(align=True)
        for spec in fields:
            if spec.kind == LOCATION:
                row.prop(target.obj, "location", index=spec.index, text=spec.label)
    shown = set()
    for spec in fields:
        bound = (target.bound or {}).get(spec.name)
        if bound is None or (bound.owner.as_pointer(), bound.attribute, spec.kind == COLOUR_CHANNEL) in shown:
            continue
        if spec.kind == COLOUR_CHANNEL:  # the whole colour, once
            shown.add((bound.owner.as_pointer(), bound.attribute, True))
            col.prop(bound.owner, bound.attribute, text=spec.label.rsplit(" ", 1)[0])
        else:
            col.prop(bound.owner, bound.attribute, index=bound.index, text=spec.label)


class BLENDERCNN_PT_dataset(_BlenderCNNPanel, bpy.types.Panel):
    """What the dataset is and the button that makes it; how it is rendered is in Render Settings."""

    bl_label = "Dataset"
    bl_idname = "BLENDERCNN_PT_dataset"

    def draw(self, context):
        layout = self.layout
        props = context.scene.blendercnn
        status = context.window_manager.blendercnn_status
        col = fit.split_column(layout)
        col.enabled = not status.running  # what the dataset is: locked while rendering
        for name, text in (("output_dir", "Output"), ("count", "Images"), ("resolution", "Resolution"),
                           ("seed", "Seed"), ("render_preset", "Quality"), ("render_samples", "Samples")):
            fit.field(col, context, self.bl_label, props, name, text=text)
        note = gpu_note(props.render_device)
        if note:
            fit.lines(layout, context, self.bl_label, note, icon="ERROR")
        default = ARCHITECTURES[PREFERRED]
        if default.resolution_problem(props.resolution):
            fit.lines(layout, context, self.bl_label,
                      f"{default.label} trains only multiples of {default.resolution_multiple}", icon="ERROR")
        if status.running:
            layout.progress(factor=status.fraction, type="BAR",
                            text=f"{status.done} / {status.total} · ETA {format_duration(status.eta_seconds)}")
            layout.operator("blendercnn.cancel_generation", icon="CANCEL")
        else:
            try:
                settings = props.generation_settings("-")
            except UserError as err:  # a Parameters row that is not one (the Randomize panel names it too)
                fit.lines(layout, context, self.bl_label, str(err), icon="ERROR")
                settings = None
            if settings is not None:
                fit.lines(layout, context, self.bl_label, f"≈ {format_duration(estimate_seconds(settings))} for "
                          f"{props.count:,} images{estimate_basis(settings)}", icon="TIME")
            _draw_count_advice(layout, context, self.bl_label, props)
            col = layout.column(align=True)
            col.operator("blendercnn.generate_dataset", icon="RENDER_STILL")
            # Train as it renders: the Train panel's settings, training starting on the first images.
            col.operator("blendercnn.generate_dataset", text="Generate & Train", icon="PLAY").then_train = True
            # Under the buttons: while rendering, the progress bar and Cancel take the lines above them.
            _draw_preset_advice(layout, context, self.bl_label, props)
        if status.message:
            fit.lines(layout, context, self.bl_label, status.message, icon="INFO")


def _draw_count_advice(layout, context, panel: str, props) -> None:
    """What the measured learning curve says of the number of images: fewer would make the same model,
    or this is its recommendation (then the seed's 10,000 is one click away)."""
    own = preset_count(props.resolution, props.render_preset)
    if own is not None:  # this Quality's own measured count (recommendation.TRAINING_PRESETS)
        if props.count == own:
            fit.lines(layout, context, panel, recommended_preset(props.resolution).count_reason, icon="INFO")
        return
    recommended = recommended_count(props.resolution)
    measured = f"±{TOLERANCE_DB} dB at {curve_resolution(props.resolution)}²"
    if count_note(props.count, props.resolution):
        fit.lines(layout, context, panel, f"{recommended:,} images: the same model ({measured})", icon="INFO")
    elif recommended is not None and props.count == recommended:
        fit.lines(layout, context, panel, f"{recommended:,}: the measured recommendation ({measured})", icon="INFO")
        layout.operator("blendercnn.use_seed_count", text=f"Use the seed's {SEED_COUNT:,}")


def _draw_preset_advice(layout, context, panel: str, props) -> None:
    """Which renders train best at this resolution, and the measurement that says so
    (recommendation.TRAINING_PRESETS): the Quality the panel starts at, or advice once another is picked."""
    choice = recommended_preset(props.resolution)
    fit.lines(layout, context, panel, f"{RENDER_PRESETS[choice.preset].label} {choice.reason}", icon="INFO")


class BLENDERCNN_PT_dataset_render(_BlenderCNNPanel, bpy.types.Panel):
    """The expert render settings, tucked away as Blender's own panels do: the Quality preset sets them."""

    bl_label = "Render Settings"
    bl_idname = "BLENDERCNN_PT_dataset_render"
    bl_parent_id = "BLENDERCNN_PT_dataset"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        props = context.scene.blendercnn
        col = fit.split_column(layout)
        col.enabled = not context.window_manager.blendercnn_status.running
        names = [("denoiser", "Denoiser")]
        if props.denoiser != "none":
            names += [("denoise_quality", "Quality"), ("denoise_prefilter", "Prefilter"), ("denoise_passes", "Passes")]
        names += [("sampling_pattern", "Pattern"), ("render_device", "Device"), ("workers", "Workers")]
        for name, text in names:
            fit.field(col, context, self.bl_label, props, name, text=text)


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


def _draw_log_tail(layout, context, text: str) -> None:
    box = layout.box()
    for line in text.splitlines()[-6:]:
        fit.lines(box, context, "Train", line)


def _draw_training_progress(layout, context, status) -> None:
    """Epoch and batch bars, the figure that matters first (validation PSNR), time, and Cancel."""
    layout.progress(factor=status.epoch_fraction, type="BAR", text=f"Epoch {status.epoch} / {status.epochs}")
    layout.progress(factor=status.batch_fraction, type="BAR",
                    text=f"Batch {status.batch} / {status.batches} · loss {_figure(status.loss, '.5f')}")
    fit.lines(layout, context, "Train", f"{_figure(status.val_psnr, '.2f')} dB val PSNR · "
              f"val loss {_figure(status.val_loss, '.5f')}", icon="GRAPH")
    fit.lines(layout, context, "Train", f"{format_duration(status.elapsed_s)} elapsed · "
              f"ETA {format_duration(status.eta_s)}{f' ({status.eta_until})' if status.eta_until != 'epochs' else ''} · "
              f"{status.device or 'starting…'}", icon="TIME")
    if status.stopping:
        fit.lines(layout, context, "Train", "Stopping after this batch…", icon="TIME")
    else:
        layout.operator("blendercnn.cancel_training", icon="CANCEL")


def _draw_batch_size(layout, context, props) -> None:
    """Batch Size: Auto (the recipe's for the dataset's resolution, which training picks) or a number."""
    row = layout.row(align=True)
    row.prop(props, "recipe_auto", text="")  # the checkbox before the line: Auto on or off
    if not props.recipe_auto:
        row.prop(props, "batch_size", text="Batch Size")
        return
    resolution = dataset_resolution(training_data_dir(props))
    record = ARCHITECTURES[props.architecture]
    chosen = (f"{record.recipe(resolution)['batch_size']} at {resolution}²" if resolution
              else record.batch_size_text())
    row.label(text=f"Batch Size: Auto · {chosen}")


_CARD_RESOLUTIONS: dict[str, tuple[float, int | None]] = {}


def dataset_resolution(folder: str) -> int | None:
    """The resolution the dataset card in ``folder`` records, or None (no card yet, or unreadable).
    Read again only when the card changed (the panel draws often)."""
    path = os.path.join(folder, CARD_NAME)
    try:
        changed = os.stat(path).st_mtime
    except OSError:
        return None
    cached = _CARD_RESOLUTIONS.get(path)
    if cached is None or cached[0] != changed:
        try:
            card = DatasetFolder(folder).read_card()
        except UserError:
            card = None
        _CARD_RESOLUTIONS[path] = (changed, card.identity.resolution if card else None)
    return _CARD_RESOLUTIONS[path][1]


class BLENDERCNN_PT_train(_BlenderCNNPanel, bpy.types.Panel):
    bl_label = "Train"
    bl_idname = "BLENDERCNN_PT_train"

    def draw(self, context):
        layout = self.layout
        props = context.scene.blendercnn
        status = context.window_manager.blendercnn_training
        draw_interpreter(layout, context, preferences(context))
        col = fit.split_column(layout)
        col.enabled = not status.running
        for name, text in (("train_data_dir", "Data"), ("run_dir", "Run"), ("architecture", "Architecture"),
                           ("epochs", "Epochs")):
            fit.field(col, context, self.bl_label, props, name, text=text)
        _draw_batch_size(col, context, props)
        if status.running:
            _draw_training_progress(layout, context, status)
        else:
            row = layout.row(align=True)
            row.operator("blendercnn.train", icon="PLAY").resume = False

            if resumable_run(context):
                row.operator("blendercnn.train", text="Resume", icon="RECOVER_LAST").resume = True
        if status.message:
            fit.lines(layout, context, self.bl_label, status.message, icon="INFO")
        if status.error:
            fit.lines(layout, context, self.bl_label, status.error, icon="ERROR")
            if status.log_tail:
                _draw_log_tail(layout, context, status.log_tail)
        curve = bpy.data.images.get(TRAINING_IMAGE)
        row = layout.row(align=True)
        if curve is not None:
            row.operator("blendercnn.show_image", text="Curve", icon="IMAGE_DATA").name = TRAINING_IMAGE
        if status.tensorboard_url:
            row.operator("blendercnn.open_tensorboard", text="TensorBoard", icon="URL")
            row.operator("blendercnn.stop_tensorboard", text="", icon="X")
        else:
            row.operator("blendercnn.open_tensorboard", text="TensorBoard", icon="GRAPH")
        if status.tensorboard_url:
            fit.lines(layout, context, self.bl_label, status.tensorboard_url)


class BLENDERCNN_PT_train_settings(_BlenderCNNPanel, bpy.types.Panel):
    """The training recipe's finer settings: the architecture fills them in."""

    bl_label = "Training Settings"
    bl_idname = "BLENDERCNN_PT_train_settings"
    bl_parent_id = "BLENDERCNN_PT_train"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        props = context.scene.blendercnn
        col = fit.split_column(self.layout)
        col.enabled = not context.window_manager.blendercnn_training.running
        if props.recipe_auto:
            rate = ARCHITECTURES[props.architecture].learning_rate
            fit.lines(col, context, self.bl_label, f"Learning Rate: Auto · {rate:g}")
        else:
            fit.field(col, context, self.bl_label, props, "learning_rate", text="Learning Rate")
        for name, text in (("time_budget_minutes", "Time Budget (min)"), ("patience", "Patience"),
                           ("train_seed", "Seed")):
            fit.field(col, context, self.bl_label, props, name, text=text)


def _draw_parameter_fields(col, status) -> None:
    """The Preview's fields for a model of the user's parameters: each colour as a swatch over its
    three channels' values, every other parameter as a number."""
    names = status.parameter_names.split(",")
    swatches = {start: swatch for swatch, start in enumerate(status.colour_starts())}
    index = 0
    while index < len(names):
        if index in swatches:
            name = f"parameter_colour_{swatches[index]}"
            col.prop(status, name, text="")
            row = col.row(align=True)
            for channel in range(3):
                row.prop(status, name, index=channel, text=names[index + channel])
            index += 3
        else:
            col.prop(status, "parameter_values", index=index, text=names[index])
            index += 1


class BLENDERCNN_PT_preview(_BlenderCNNPanel, bpy.types.Panel):
    bl_label = "Preview"
    bl_idname = "BLENDERCNN_PT_preview"

    def draw(self, context):
        layout = self.layout
        props = context.scene.blendercnn
        status = context.window_manager.blendercnn_preview
        fit.field(fit.split_column(layout), context, self.bl_label, props, "preview_model", text="Model")
        row = layout.row(align=True)
        row.operator("blendercnn.load_preview", icon="FILE_REFRESH" if status.state != "OFF" else "IMPORT",
                     text="Reload Model" if status.state != "OFF" else "Load Model")
        row.operator("blendercnn.unload_preview", text="", icon="X")
        if status.state == "READY":
            fit.lines(layout, context, self.bl_label, f"{_figure(status.latency_ms, '.0f')} ms · "
                      f"{status.resolution}×{status.resolution} · {status.device}", icon="CHECKMARK")
        elif status.state == "LOADING":
            fit.lines(layout, context, self.bl_label, "Loading the model…", icon="TIME")
        if status.message:
            fit.lines(layout, context, self.bl_label, status.message,
                      icon="ERROR" if status.state == "ERROR" else "INFO")
        layout.prop(props, "preview_follow_scene")
        col = layout.column(align=True)
        if status.parameter_names:  # a model of the user's parameters: one field each, a swatch per colour
            _draw_parameter_fields(col, status)
        else:
            col.prop(status, "preview_colour", text="")
            row = col.row(align=True)
            for index, channel in enumerate("RGB"):  # typed values, beside the picker
                row.prop(status, "preview_colour", index=index, text=channel)
            row = col.row(align=True)
            for spec in RANGED_FIELDS:
                row.prop(status, f"preview_{spec.name}")
        layout.operator("blendercnn.render_real", icon="RENDER_STILL")
        if status.real_psnr >= 0:
            fit.lines(layout, context, self.bl_label, f"{status.real_psnr:.2f} dB real vs model", icon="INFO")
        row = layout.row(align=True)  # which image the Image Editor shows: the model's, or where it differs
        for name, text, icon in ((PREVIEW_IMAGE, "Model", "IMAGE_DATA"), (DIFFERENCE_IMAGE, "Difference ×4", "IMAGE_RGB")):
            if bpy.data.images.get(name) is not None:
                row.operator("blendercnn.show_image", text=text, icon=icon).name = name
        col = fit.split_column(layout)
        fit.field(col, context, self.bl_label, props, "estimate_image", text="Picture")
        layout.operator("blendercnn.estimate_from_image", icon="EYEDROPPER")
        if status.estimate:
            fit.lines(layout, context, self.bl_label, status.estimate)
        row = layout.row()
        row.enabled = not status.evaluating  # one evaluation at a time; its line says when it is done
        row.operator("blendercnn.evaluate", icon="VIEWZOOM")
        if status.evaluation:
            fit.lines(layout, context, self.bl_label, status.evaluation)


class RENDER_PT_blendercnn(bpy.types.Panel):
    """Render Properties ▸ BlenderCNN: the engine's model and what it does outside the trained range."""

    bl_label = "BlenderCNN"
    bl_idname = "RENDER_PT_blendercnn"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "render"
    COMPAT_ENGINES = {"BLENDERCNN"}

    @classmethod
    def poll(cls, context):
        return context.engine in cls.COMPAT_ENGINES

    def draw(self, context):
        from ..preview_session import run_folder
        from ...run_config import read_run_config

        layout = self.layout
        layout.use_property_split = True
        props = context.scene.blendercnn
        layout.prop(props, "preview_model", text="Model")
        layout.prop(props, "engine_outside_range", text="Outside the Range")
        run, render = run_folder(context.scene), context.scene.render
        try:
            resolution = read_run_config(run).resolution if run else 0
        except UserError as err:
            layout.label(text=str(err), icon="ERROR")
            return
        if not resolution:
            layout.label(text="Choose a trained run folder (or train one)", icon="INFO")
            return
        scale = render.resolution_percentage / 100.0
        if (int(render.resolution_x * scale), int(render.resolution_y * scale)) != (resolution, resolution):
            layout.label(text=f"The model renders {resolution}×{resolution}", icon="ERROR")
            layout.operator("blendercnn.use_model_resolution", icon="FULLSCREEN_EXIT")
        else:
            layout.label(text=f"{resolution}×{resolution}, the model's resolution", icon="CHECKMARK")


CLASSES = (BLENDERCNN_UL_parameters, BLENDERCNN_MT_parameter_presets, BLENDERCNN_PT_scene, BLENDERCNN_PT_randomize, BLENDERCNN_PT_dataset, BLENDERCNN_PT_dataset_render,
           BLENDERCNN_PT_train, BLENDERCNN_PT_train_settings, BLENDERCNN_PT_preview, RENDER_PT_blendercnn)
