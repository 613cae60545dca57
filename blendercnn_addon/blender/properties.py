"""Blender properties behind the panel.

``scene.blendercnn`` (saved with the .blend): the target, the randomisation ranges
and the dataset settings. ``window_manager.blendercnn_status`` (never saved): the
progress of a running job, which the panel draws.
"""

from __future__ import annotations

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, FloatVectorProperty,
                       IntProperty, PointerProperty, StringProperty)

from . import preview_session
from ..architectures import ARCHITECTURES, PREFERRED, recipe
from ..recommendation import default_count, recommended_preset
from ..processes.parallel import default_workers
from ..demo_scenes import DEFAULT_DEMO, DEMO_SCENES
from ..parameters import colour_fields, layout_of, parse_param, property_field
from ..randomization import VectorSpec
from ..vector import COLOUR_CHANNEL, DEFAULT_LAYOUT, FIELDS, RANGED_FIELDS, VectorLayout, colour_of
from ..settings import (DEFAULT_PRESET, DEFAULT_RESOLUTION, MAX_RESOLUTION, MAX_WORKERS, MIN_RESOLUTION, RENDER_PRESETS,
                        GenerationSettings, SceneTarget)

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

PRESET_ITEMS = tuple((name, p.label, p.description) for name, p in RENDER_PRESETS.items()) + (
    ("custom", "Custom", "Your own samples and denoiser settings"),
)
DENOISE_QUALITY_ITEMS = (
    ("HIGH", "High", "OpenImageDenoise's best quality, slowest"),
    ("BALANCED", "Balanced", "Nearly High's quality at a fraction of its time"),
    ("FAST", "Fast", "Quickest"),
)
DENOISE_PREFILTER_ITEMS = (
    ("ACCURATE", "Accurate", "Denoise the albedo and normal passes first (slowest)"),
    ("FAST", "Fast", "Assume clean albedo and normal passes"),
    ("NONE", "None", "Use the passes as they are"),
)
DENOISE_PASSES_ITEMS = (
    ("RGB_ALBEDO_NORMAL", "Albedo and Normal", "Colour, albedo and normal passes"),
    ("RGB_ALBEDO", "Albedo", "Colour and albedo (measured best for this scene at few samples)"),
    ("RGB", "None", "Colour only"),
)
SAMPLING_PATTERN_ITEMS = (
    ("BLUE_NOISE", "Blue Noise", "Noise spread evenly: denoises best at few samples"),
    ("TABULATED_SOBOL", "Tabulated Sobol", "Cycles' classic sequence (the seed's era)"),
    ("AUTOMATIC", "Automatic", "Blender chooses"),
)
RENDER_DEVICE_ITEMS = (
    ("CPU", "CPU", "Render on the processor (always there)"),
    ("PREFERENCES", "As in Preferences", "The GPU backend and devices ticked in Preferences > System"),
    ("CUDA", "CUDA", "NVIDIA GPUs through CUDA"),
    ("OPTIX", "OptiX", "NVIDIA RTX GPUs through OptiX"),
    ("HIP", "HIP", "AMD GPUs"),
    ("METAL", "Metal", "Apple GPUs"),
    ("ONEAPI", "oneAPI", "Intel GPUs"),
)

ARCHITECTURE_ITEMS = tuple((a.name, a.label, a.description) for a in ARCHITECTURES.values())
RADIANCE_SMALL = recipe(PREFERRED, MIN_RESOLUTION)  # where Batch Size and Learning Rate start when Auto is turned off


def _preview_vector_changed(self, context):
    preview_session.request_preview(self)


def _preset_chosen(self, context):
    """Copy the chosen preset's render quality into the fields it stands for; from now on a new resolution
    keeps it."""
    self["preset_picked"] = True
    preset = RENDER_PRESETS.get(self.render_preset)
    if preset is None:
        return
    chosen = self.render_preset
    for prop, value in preset.as_settings().items():
        setattr(self, "render_samples" if prop == "samples" else prop, value)
    self["render_preset"] = list(RENDER_PRESETS).index(chosen)  # the setters above may have said Custom
    _count_follows(self)


def _count_typed(self, context):
    self["count_typed"] = True


def _resolution_chosen(self, context):
    """The number of images and the Quality preset follow the measured recommendations for the new
    resolution (recommendation.py), each until the user typed a number or picked a quality."""
    if not self.preset_picked and self.render_preset != recommended_preset(self.resolution).preset:
        self.render_preset = recommended_preset(self.resolution).preset  # fills the fields it stands for
        self["preset_picked"] = False  # the recommendation's choice, not the user's
    _count_follows(self)


def _count_follows(props) -> None:
    """Until a number is typed, the number of images is the measured one for the resolution and Quality."""
    if not props.count_typed:
        props["count"] = default_count(props.resolution, props.render_preset)  # not through count's update


def _quality_edited(self, context):
    """A field a preset stands for was edited by hand: the preset becomes Custom unless it still matches
    (and a new resolution keeps the hand-made settings)."""
    self["preset_picked"] = True
    for index, preset in enumerate(RENDER_PRESETS.values()):
        if preset.as_settings() == self.quality_settings():
            self["render_preset"] = index
            return
    self["render_preset"] = len(RENDER_PRESETS)  # "custom"


def _objects_in_scene(self, obj):
    return obj.name in bpy.context.scene.objects if bpy.context.scene else True


MAX_PARAMETERS = 32  # the Preview panel's fields for a model of the user's parameters (Blender's vector limit)
MAX_PREVIEW_COLOURS = 4  # colour swatches the Preview panel has for them (more colours show as numbers)
PARAMETER_KIND_ITEMS = (
    ("BALL_ROOM", "Ball Room's Five", "The target's emission colour (r, g, b) and its x, y: the ranges below"),
    ("PROPERTY", "Property", "A number: its data path from bpy.data, drawn uniformly from Min .. Max"),
    ("COLOUR", "Colour", "A colour (its data path, without an index), drawn by the colour scheme"),
)
DEMO_SCENE_ITEMS = tuple((scene.name, scene.label, scene.description) for scene in DEMO_SCENES.values())


class BlenderCNNParameter(bpy.types.PropertyGroup):
    """One row of the Randomize panel's Parameters list (``scene.blendercnn.parameters``): what it
    adds to the vector (parameters.py makes the fields)."""

    kind: EnumProperty(name="Kind", items=PARAMETER_KIND_ITEMS, default="PROPERTY")
    data_path: StringProperty(name="Data Path", default="",
                              description="The property from bpy.data, with its index: e.g. "
                                          "objects[\"Ball\"].location[2] (right-click a field ▸ Copy Full Data Path)")
    minimum: FloatProperty(name="Min", default=0.0, precision=3, description="Lowest value drawn")
    maximum: FloatProperty(name="Max", default=1.0, precision=3, description="Highest value drawn")
    column: StringProperty(name="Name", default="", description="Its column in the dataset's tables (empty: "
                           "made from the data path)")

    def fields(self) -> tuple:
        """The vector fields this row stands for (UserError for a bad path or range)."""
        if self.kind == "BALL_ROOM":
            return FIELDS
        if self.kind == "COLOUR":
            return colour_fields(self.data_path, self.column)
        return (property_field(self.data_path, self.minimum, self.maximum, self.column),)


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

    demo_scene: EnumProperty(name="Scene", items=DEMO_SCENE_ITEMS, default=DEFAULT_DEMO,
                             description="What Set Up Scene builds, with the parameters its datasets vary")
    parameters: CollectionProperty(type=BlenderCNNParameter, name="Parameters",
                                   description="What each sample varies (empty: the ball room's five)")
    parameter_index: IntProperty(name="Parameter", default=0, min=0)
    parameter_owner: PointerProperty(
        name="Owner", type=bpy.types.Object,
        description="The object whose property Add Parameter adds (pick it with the eyedropper); the Data Path is "
                    "then from the object, e.g. location[2] or data.energy (empty: the path is from bpy.data)")
    # <name>_min, <name>_max of every ranged vector field (x_min .. y_max): added below, from vector.py's table.
    colour_scheme: EnumProperty(name="Colours", items=COLOUR_SCHEME_ITEMS, default="vibrant")
    randomize_seed: IntProperty(name="Seed", default=0, min=0,
                                description="Randomize draws vector #Clicks of this seed: reproducible")
    viewport_prepared: BoolProperty(name="Viewport Prepared", default=False, options={"HIDDEN"},
                                    description="Set Up Scene has switched the viewport to Rendered shading once")
    randomize_clicks: IntProperty(name="Clicks", default=0, min=0,
                                  description="How many times Randomize was used (the next vector's index)")

    output_dir: StringProperty(
        name="Output", subtype="DIR_PATH", default="",
        description="Dataset folder (empty: 'datasets/dataset' in the add-on's user folder)")
    count: IntProperty(name="Samples", default=default_count(DEFAULT_RESOLUTION), min=1, soft_max=100_000,
                       update=_count_typed,
                       description="Number of images to render (starts at the measured recommendation for the "
                                   "resolution, and follows it until you type a number)")
    count_typed: BoolProperty(name="Count Typed", default=False, options={"HIDDEN"},
                              description="The number of images was typed: a new resolution keeps it")
    resolution: IntProperty(name="Resolution", default=DEFAULT_RESOLUTION, min=MIN_RESOLUTION, max=MAX_RESOLUTION,
                            subtype="PIXEL", update=_resolution_chosen, description="Square image size in pixels")
    render_preset: EnumProperty(name="Quality", items=PRESET_ITEMS, default=recommended_preset(DEFAULT_RESOLUTION).preset,
                                update=_preset_chosen,
                                description="Render quality preset: samples and denoising (starts at the renders "
                                            "measured to train best at the resolution, and follows it until you "
                                            "pick one)")
    preset_picked: BoolProperty(name="Quality Picked", default=False, options={"HIDDEN"},
                                description="The Quality preset or a render setting was chosen by hand: a new "
                                            "resolution keeps it")
    render_samples: IntProperty(name="Render Samples", default=RENDER_PRESETS[DEFAULT_PRESET].samples, min=1,
                                soft_max=4096, update=_quality_edited, description="Cycles samples per pixel")
    seed: IntProperty(name="Dataset Seed", default=0, min=0,
                      description="Sample i's vector and noise depend on (seed, i) only")
    denoiser: EnumProperty(name="Denoiser", items=DENOISER_ITEMS, default=RENDER_PRESETS[DEFAULT_PRESET].denoiser,
                           update=_quality_edited)
    denoise_quality: EnumProperty(name="Denoise Quality", items=DENOISE_QUALITY_ITEMS, update=_quality_edited,
                                  default=RENDER_PRESETS[DEFAULT_PRESET].denoise_quality)
    denoise_prefilter: EnumProperty(name="Prefilter", items=DENOISE_PREFILTER_ITEMS, update=_quality_edited,
                                    default=RENDER_PRESETS[DEFAULT_PRESET].denoise_prefilter)
    denoise_passes: EnumProperty(name="Denoise Passes", items=DENOISE_PASSES_ITEMS, update=_quality_edited,
                                 default=RENDER_PRESETS[DEFAULT_PRESET].denoise_passes)
    sampling_pattern: EnumProperty(name="Pattern", items=SAMPLING_PATTERN_ITEMS, update=_quality_edited,
                                   default=RENDER_PRESETS[DEFAULT_PRESET].sampling_pattern)
    render_device: EnumProperty(name="Device", items=RENDER_DEVICE_ITEMS, default="CPU",
                                description="Where Cycles renders; without the GPU asked for, the CPU, with a note")
    workers: IntProperty(name="Workers", default=default_workers(), min=1, max=MAX_WORKERS,
                         description="Background Blender processes rendering at once, each with its share "
                                     "of the CPU cores (default: one per two cores)")

    train_data_dir: StringProperty(
        name="Data", subtype="DIR_PATH", default="",
        description="Dataset to train on (empty: the Dataset panel's output folder)")
    run_dir: StringProperty(
        name="Run", subtype="DIR_PATH", default="",
        description="Run folder for model, logs and history (empty: a new dated folder in the add-on's "
                    "user folder)")
    architecture: EnumProperty(name="Architecture", items=ARCHITECTURE_ITEMS, default=PREFERRED,
                               description="Network to train; with Auto its recipe (batch size, learning rate) "
                                           "for the dataset's resolution")
    epochs: IntProperty(name="Epochs", default=50, min=1, soft_max=500,
                        description="Maximum epochs; early stopping may end sooner")
    recipe_auto: BoolProperty(
        name="Auto", default=True,
        description="Batch size and learning rate from the architecture's measured recipe for the dataset's "
                    "resolution, chosen when training starts (off: the values below)")
    batch_size: IntProperty(name="Batch Size", default=RADIANCE_SMALL["batch_size"], min=1, soft_max=512,
                            description="Images per training step (used with Auto off)")
    learning_rate: FloatProperty(name="Learning Rate", default=RADIANCE_SMALL["learning_rate"], min=1e-7, max=1.0,
                                 precision=5, step=0.01, description="Adam's initial learning rate (used with Auto off)")
    train_seed: IntProperty(name="Training Seed", default=0, min=0,
                            description="Seed of the weights, the batch order and the 90/10 split")
    patience: IntProperty(name="Patience", default=5, min=1, soft_max=50,
                          description="Epochs without validation improvement before training stops")
    time_budget_minutes: FloatProperty(
        name="Time Budget", default=0.0, min=0.0, soft_max=600.0, precision=1, step=100,
        description="Minutes of training at most: it ends at the step that spends them, mid-epoch if need "
                    "be, and the best model is kept (0: no limit; early stopping may end it sooner)")

    preview_model: StringProperty(
        name="Model", subtype="DIR_PATH", default="",
        description="Trained run folder to preview (filled in when training ends)")
    estimate_image: PointerProperty(
        name="Picture", type=bpy.types.Image,
        description="Image to estimate the ball's colour and place from (empty: BlenderCNN Real)")
    preview_follow_scene: BoolProperty(
        name="Follow Scene", default=True,
        description="While a model is loaded, show its image whenever the ball moves or its emission colour "
                    "changes (dragging with G, the N panel, animation)")
    engine_outside_range: EnumProperty(
        name="Outside the Trained Range", default="CLAMP",
        items=(("CLAMP", "Clamp", "Draw the nearest vector the model was trained on, and say so in the viewport"),
               ("WARN", "Warn", "Draw nothing and say which number is outside the range (F12 and Render "
                                "Animation stop with that line)")),
        description="What the BlenderCNN render engine does when the ball's colour or place lies outside the "
                    "range its model was trained on")

    def target_names(self) -> SceneTarget:
        """Names the generator resolves; empty pointers fall back to the seed's names."""
        return SceneTarget(
            object_name=self.target_object.name if self.target_object else "Ball",
            material_name=self.target_material.name if self.target_material else "Glow",
            node_name=self.node_name,
        )

    def layout(self) -> VectorLayout:
        """The vector the Parameters list makes (the ball room's five when it is empty); UserError for a
        row that is not a parameter."""
        if not len(self.parameters):
            return DEFAULT_LAYOUT
        return layout_of([spec for item in self.parameters for spec in item.fields()])

    def vector_spec(self) -> VectorSpec:
        """What Randomize and Generate draw from: the layout, the ball room's x, y ranges (where it has
        them) and the colour scheme. UserError for a bad parameter."""
        layout = self.layout()
        return VectorSpec({f.name: (getattr(self, f"{f.name}_min"), getattr(self, f"{f.name}_max"))
                           for f in RANGED_FIELDS if f in layout.fields}, self.colour_scheme, False, layout)

    def quality_settings(self) -> dict:
        """The render-quality fields, named as in GenerationSettings (what a preset sets)."""
        return {"samples": self.render_samples, "denoiser": self.denoiser, "denoise_quality": self.denoise_quality,
                "denoise_prefilter": self.denoise_prefilter, "denoise_passes": self.denoise_passes,
                "sampling_pattern": self.sampling_pattern}

    def generation_settings(self, out_dir: str) -> GenerationSettings:
        return GenerationSettings(
            out_dir=out_dir, count=self.count, resolution=self.resolution, seed=self.seed,
            **self.quality_settings(), device=self.render_device, workers=self.workers,
            vectors=self.vector_spec(), target=self.target_names())

    def fill_parameters(self, texts) -> None:
        """The Parameters list set to ``texts`` (--param texts, demo_scenes.py's; None: empty, the five)."""
        self.parameters.clear()
        for text in texts or ():
            item = self.parameters.add()
            fields = parse_param(text)
            first = fields[0]
            if fields == FIELDS:
                item.kind = "BALL_ROOM"
                continue
            item.kind = "COLOUR" if first.kind == COLOUR_CHANNEL else "PROPERTY"
            item.data_path = first.data_path if item.kind == "COLOUR" else first.full_path
            item.minimum, item.maximum = first.default_range
            item.column = first.name.removesuffix("_r") if item.kind == "COLOUR" else first.name
        self.parameter_index = 0


class BlenderCNNJobStatus(bpy.types.PropertyGroup):
    """Progress of the running dataset job (``window_manager.blendercnn_status``)."""

    running: BoolProperty(name="Running", default=False)
    cancel_requested: BoolProperty(name="Cancel Requested", default=False)
    done: IntProperty(name="Done", default=0)
    total: IntProperty(name="Total", default=0)
    eta_seconds: FloatProperty(name="ETA", default=-1.0, unit="TIME_ABSOLUTE")
    seconds_per_image: FloatProperty(name="Seconds per Image", default=-1.0)
    message: StringProperty(name="Message", default="")

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


class BlenderCNNTrainingStatus(bpy.types.PropertyGroup):
    """The training subprocess as the panel shows it (``window_manager.blendercnn_training``).

    Written only by the add-on's timer on Blender's main thread. Losses are MSE on [0, 1]
    pixels, PSNR in dB, times in seconds; -1 means "not known yet".
    """

    running: BoolProperty(default=False)
    stopping: BoolProperty(default=False)
    device: StringProperty(default="")
    run_dir: StringProperty(subtype="DIR_PATH", default="")
    epoch: IntProperty(default=0)
    epochs: IntProperty(default=0)
    batch: IntProperty(default=0)
    batches: IntProperty(default=0)
    loss: FloatProperty(default=-1.0)
    val_loss: FloatProperty(default=-1.0)
    val_psnr: FloatProperty(default=-1.0)
    best_val_psnr: FloatProperty(default=-1.0)
    elapsed_s: FloatProperty(default=-1.0)
    eta_s: FloatProperty(default=-1.0)
    eta_until: StringProperty(default="epochs", description="What the ETA counts to: the last epoch (epochs), "
                              "where early stopping is expected (plateau) or the time budget (budget)")
    message: StringProperty(default="")
    error: StringProperty(default="")
    log_tail: StringProperty(default="", description="Last lines of the failed subprocess's output")
    tensorboard_url: StringProperty(default="")

    @property
    def batch_fraction(self) -> float:
        return min(1.0, self.batch / self.batches) if self.batches else 0.0

    @property
    def epoch_fraction(self) -> float:
        """Share of all epochs done, counting the running epoch's finished batches."""
        done = max(0, self.epoch - 1) + self.batch_fraction
        return min(1.0, done / self.epochs) if self.epochs else 0.0


class BlenderCNNPreviewStatus(bpy.types.PropertyGroup):
    """The preview worker, the vector it shows, and the last evaluation (``window_manager.blendercnn_preview``).

    The vector's fields live here, not on the scene: changing them is no change to the scene, so a
    slider drag redraws the sidebar and the preview, not the 3D viewport (and no depsgraph update)."""

    preview_colour: FloatVectorProperty(
        name="Colour", subtype="COLOR", size=3, min=0.0, max=1.0, default=(1.0, 0.2, 0.0),
        update=_preview_vector_changed, description="Emission colour (r, g, b in 0..1) given to the model")
    # preview_<name> of every ranged vector field (preview_x, preview_y): added below, from vector.py's table.
    parameter_names: StringProperty(default="", description="The loaded model's fields, comma-separated, when "
                                    "they are not the ball room's five (then parameter_values holds the vector)")
    parameter_values: FloatVectorProperty(
        name="Parameters", size=MAX_PARAMETERS, default=(0.0,) * MAX_PARAMETERS, update=_preview_vector_changed,
        description="Given to the model: the value of each of its parameters")
    parameter_colour_starts: StringProperty(default="", description="Where each of the loaded model's colours "
                                            "starts among parameter_names (VectorLayout.colours), comma-separated")
    # parameter_colour_0 .. parameter_colour_<MAX_PREVIEW_COLOURS - 1>: those colours' swatches, added below

    def colour_starts(self) -> list[int]:
        """The loaded model's colours with a swatch: where each starts in its vector."""
        return [int(start) for start in self.parameter_colour_starts.split(",") if start][:MAX_PREVIEW_COLOURS]

    def preview_vector(self) -> list[float]:
        """The vector the Preview panel shows: the ball room's colour (from the swatch) and x, y, or the
        loaded model's own parameters (parameter_names; its colours from their swatches)."""
        if self.parameter_names:
            values = [float(v) for v in self.parameter_values[:len(self.parameter_names.split(","))]]
            for swatch, start in enumerate(self.colour_starts()):
                values[start:start + 3] = [float(c) for c in getattr(self, f"parameter_colour_{swatch}")]
            return values
        return [float(self.preview_colour[f.index]) if f.kind == COLOUR_CHANNEL else float(getattr(self, f"preview_{f.name}"))
                for f in FIELDS]

    def show_preview_vector(self, values) -> None:
        """Set the Preview fields to a vector without their update callbacks (Follow Scene asks itself)."""
        if self.parameter_names:
            values = [float(v) for v in values][:MAX_PARAMETERS]
            self["parameter_values"] = values + [0.0] * (MAX_PARAMETERS - len(values))
            for swatch, start in enumerate(self.colour_starts()):
                self[f"parameter_colour_{swatch}"] = [min(1.0, max(0.0, v)) for v in values[start:start + 3]]
            return
        self["preview_colour"] = colour_of(values)
        for spec, value in zip(FIELDS, values):
            if spec.ranged:
                self[f"preview_{spec.name}"] = float(value)

    state: EnumProperty(items=(("OFF", "Off", ""), ("LOADING", "Loading", ""), ("READY", "Ready", ""),
                               ("ERROR", "Error", "")), default="OFF")
    model_dir: StringProperty(subtype="DIR_PATH", default="")
    device: StringProperty(default="")
    resolution: IntProperty(default=0)
    latency_ms: FloatProperty(default=-1.0, description="Last request: vector sent → pixels in the image")
    real_psnr: FloatProperty(default=-1.0, description="PSNR (dB) between BlenderCNN Real and Preview")
    estimate: StringProperty(default="", description="The last Estimate from Image: r, g, b, x, y and how well "
                             "the model's image of it fits the picture")
    message: StringProperty(default="")
    evaluating: BoolProperty(default=False)
    evaluation: StringProperty(default="", description="Last evaluation's metrics, one line")


class BlenderCNNEnvironmentStatus(bpy.types.PropertyGroup):
    """The TensorFlow interpreter check and the Create Environment job (``window_manager.blendercnn_env``)."""

    checked: BoolProperty(default=False)
    python: StringProperty(default="", description="Interpreter the add-on runs TensorFlow with")
    summary: StringProperty(default="")
    creating: BoolProperty(default=False)
    step: IntProperty(default=0)
    steps: IntProperty(default=0)
    step_title: StringProperty(default="")
    last_line: StringProperty(default="")
    error: StringProperty(default="")
    started_at: FloatProperty(default=0.0, description="When Create Environment started (Unix time, s)")


def _unit(spec) -> str:
    return "LENGTH" if spec.unit == "m" else "NONE"


def _add_vector_field_properties() -> None:
    """From vector.py's table: the Randomize panel's range of every ranged field (``x_min``, ``x_max``,
    ...) on the scene settings, and the Preview panel's field for it (``preview_x``, ...)."""
    for spec in RANGED_FIELDS:
        low, high = spec.default_range
        BlenderCNNSceneSettings.__annotations__[f"{spec.name}_min"] = FloatProperty(
            name=f"{spec.label} min", default=low, unit=_unit(spec), description=f"Lowest: {spec.description}")
        BlenderCNNSceneSettings.__annotations__[f"{spec.name}_max"] = FloatProperty(
            name=f"{spec.label} max", default=high, unit=_unit(spec), description=f"Highest: {spec.description}")
        BlenderCNNPreviewStatus.__annotations__[f"preview_{spec.name}"] = FloatProperty(
            name=spec.label, default=(low + high) / 2, soft_min=low, soft_max=high, unit=_unit(spec),
            update=_preview_vector_changed, description=f"Given to the model: {spec.description}")


_add_vector_field_properties()
for _swatch in range(MAX_PREVIEW_COLOURS):
    BlenderCNNPreviewStatus.__annotations__[f"parameter_colour_{_swatch}"] = FloatVectorProperty(
        name="Colour", subtype="COLOR", size=3, min=0.0, max=1.0, default=(1.0, 1.0, 1.0),
        update=_preview_vector_changed, description="Given to the model: one of its colour parameters (linear, 0..1)")
CLASSES = (BlenderCNNParameter, BlenderCNNSceneSettings, BlenderCNNJobStatus, BlenderCNNTrainingStatus, BlenderCNNPreviewStatus,
           BlenderCNNEnvironmentStatus)
WINDOW_MANAGER_PROPERTIES = {
    "blendercnn_status": BlenderCNNJobStatus,
    "blendercnn_training": BlenderCNNTrainingStatus,
    "blendercnn_preview": BlenderCNNPreviewStatus,
    "blendercnn_env": BlenderCNNEnvironmentStatus,
}


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.blendercnn = PointerProperty(type=BlenderCNNSceneSettings)
    for name, group in WINDOW_MANAGER_PROPERTIES.items():
        setattr(bpy.types.WindowManager, name, PointerProperty(type=group))


def unregister() -> None:
    for name in WINDOW_MANAGER_PROPERTIES:
        delattr(bpy.types.WindowManager, name)
    del bpy.types.Scene.blendercnn
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
