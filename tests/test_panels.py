"""Panels' draw() against a recording stand-in layout over the real context.

The bpy module never draws panels, so this is how we know a draw() runs at all,
that every property it names exists on the data it names it on, and that every
button calls a registered operator.
"""

import bpy
import pytest

from conftest import addon_module
from test_extension import PANELS

pytestmark = pytest.mark.compat  # also run on every Blender of make test-compat


class OperatorProperties:
    """Stands in for the operator properties a button returns; only real properties may be set."""

    def __init__(self, rna_type, log):
        object.__setattr__(self, "_rna", rna_type)
        object.__setattr__(self, "_log", log)

    def __setattr__(self, name, value):
        assert name in self._rna.properties, f"operator {self._rna.identifier} has no property {name!r}"
        self._log.append(("operator_property", name, value))


class RecordingLayout:
    """Stands in for bpy.types.UILayout: records calls and checks names against real RNA."""

    def __init__(self, log=None):
        self.log = [] if log is None else log
        self.enabled = True
        self.active = True
        self.alignment = "EXPAND"
        self.use_property_split = False

    def _child(self, *args, **kwargs):
        return RecordingLayout(self.log)

    row = column = box = split = grid_flow = column_flow = _child

    def prop(self, data, prop_name, **kwargs):
        assert prop_name in data.bl_rna.properties, f"{data!r} has no property {prop_name!r}"
        self.log.append(("prop", prop_name))

    def prop_search(self, data, prop_name, search_data, search_prop, **kwargs):
        assert prop_name in data.bl_rna.properties, f"{data!r} has no property {prop_name!r}"
        assert search_prop in search_data.bl_rna.properties, f"{search_data!r} has no {search_prop!r}"
        self.log.append(("prop_search", prop_name))

    def operator(self, idname, **kwargs):
        module, name = idname.split(".")
        assert hasattr(bpy.types, f"{module.upper()}_OT_{name}"), f"no operator {idname}"
        self.log.append(("operator", idname))
        return OperatorProperties(getattr(getattr(bpy.ops, module), name).get_rna_type(), self.log)

    def label(self, text="", **kwargs):
        self.log.append(("label", text))

    def template_list(self, list_type, list_id, data, prop_name, active_data, active_prop_name, **kwargs):
        assert hasattr(bpy.types, list_type), f"no UIList {list_type}"
        assert prop_name in data.bl_rna.properties and active_prop_name in active_data.bl_rna.properties
        self.log.append(("template_list", prop_name))

    def menu(self, menu_id, **kwargs):
        assert hasattr(bpy.types, menu_id), f"no menu {menu_id}"
        self.log.append(("menu", menu_id))

    def progress(self, factor=0.0, type="BAR", text=""):
        assert 0.0 <= factor <= 1.0
        self.log.append(("progress", text))

    def separator(self, **kwargs):
        self.log.append(("separator",))


def draw(panel_name: str) -> list:
    cls = getattr(bpy.types, panel_name)
    stand_in = type("PanelSelf", (), {"bl_label": cls.bl_label})()
    stand_in.layout = RecordingLayout()
    cls.draw(stand_in, bpy.context)
    return stand_in.layout.log


@pytest.mark.parametrize("panel", sorted(PANELS))
def test_every_panel_draws_on_an_empty_scene(scene, panel):
    log = draw(panel)
    assert log, f"{panel} drew nothing"


@pytest.mark.parametrize("panel", sorted(PANELS))
def test_every_panel_draws_after_setup(seed_scene, panel):
    assert draw(panel)


def test_scene_panel_names_the_missing_target_then_not(scene):
    labels = [entry[1] for entry in draw("BLENDERCNN_PT_scene") if entry[0] == "label"]
    assert any("'Ball' not found" in text for text in labels)
    bpy.ops.blendercnn.setup_scene()
    log = draw("BLENDERCNN_PT_scene")
    assert not [e for e in log if e[0] == "label"]
    assert ("prop_search", "node_name") in log


def test_randomize_panel_shows_the_current_colour_and_position(seed_scene):
    log = draw("BLENDERCNN_PT_randomize")
    assert ("operator", "blendercnn.randomize") in log
    assert ("prop", "default_value") in log and ("prop", "location") in log
    assert ("operator", "blendercnn.parameter_add") in log and ("prop", "x_min") in log
    assert ("template_list", "parameters") not in log  # the five take no room: Add sits beside Randomize


def test_a_demonstration_scene_fills_the_parameters_and_randomize_sets_every_one(scene):
    """Set Up Scene with Ball Room + Height and Size: the list holds the five, z and size; Randomize
    sets them all; the panel shows each parameter's field and the ball room's ranges."""
    props = scene.blendercnn
    props.demo_scene = "ball_plus"
    assert bpy.ops.blendercnn.setup_scene() == {"FINISHED"}
    assert [item.kind for item in props.parameters] == ["BALL_ROOM", "PROPERTY", "PROPERTY"]
    assert props.layout().names == ("r", "g", "b", "x", "y", "z", "size")
    ball = scene.objects["Ball"]
    before = (ball.location.z, ball.scale.x)
    assert bpy.ops.blendercnn.randomize() == {"FINISHED"}
    assert (ball.location.z, ball.scale.x) != before and 0.3 <= ball.location.z <= 0.8
    depsgraph = scene.view_layers[0].depsgraph
    depsgraph.update()
    assert ball.evaluated_get(depsgraph).scale.z == pytest.approx(ball.scale.x, rel=1e-5)  # drivers keep it round
    log = draw("BLENDERCNN_PT_randomize")
    assert ("template_list", "parameters") in log
    assert ("prop", "x_min") in log and log.count(("prop", "location")) >= 3  # x, y and z
    assert ("prop", "scale") in log
    props.demo_scene = "turntable"
    assert bpy.ops.blendercnn.setup_scene() == {"FINISHED"}
    assert props.layout().names == ("turn", "key_r", "key_g", "key_b") and "BlenderCNN Block" in scene.objects
    assert ("prop", "x_min") not in draw("BLENDERCNN_PT_randomize")
    props.demo_scene = "orbit"
    assert bpy.ops.blendercnn.setup_scene() == {"FINISHED"}
    camera = scene.camera
    assert camera.parent.name == "BlenderCNN Orbit" and camera.constraints[0].target == ball
    assert bpy.ops.blendercnn.randomize() == {"FINISHED"}
    assert -0.7 <= camera.parent.rotation_euler.z <= 0.7 and 0.6 <= camera.location.z <= 2.4
    props.demo_scene = "ball_room"
    assert bpy.ops.blendercnn.setup_scene() == {"FINISHED"}
    assert not len(props.parameters) and "BlenderCNN Block" not in scene.objects and not ball.hide_render
    assert camera.parent is None and not camera.constraints and "BlenderCNN Orbit" not in scene.objects


def test_a_parameter_added_by_path_joins_the_five_and_a_bad_one_is_refused(seed_scene):
    props = seed_scene.blendercnn
    assert bpy.ops.blendercnn.parameter_add(data_path='objects["Ball"].location[2]', minimum=0.3,
                                            maximum=0.8) == {"FINISHED"}
    assert props.layout().names == ("r", "g", "b", "x", "y", "ball_location_z")
    settings = props.generation_settings("/tmp/unused")
    assert settings.vectors.layout == props.layout()
    assert settings.vectors.ranges["ball_location_z"] == pytest.approx((0.3, 0.8))
    for path, message in (('objects["Nope"].location[2]', "does not exist"), ('objects["Ball"].name', "not a number"),
                          ('objects["Ball"].location[2]', "is given twice")):
        with pytest.raises(RuntimeError, match=message):
            bpy.ops.blendercnn.parameter_add(data_path=path, minimum=0.0, maximum=1.0)
    assert len(props.parameters) == 2  # nothing added by the refused ones
    props.parameter_owner = seed_scene.objects["Ball"]  # picked with the eyedropper: the path is the object's
    assert bpy.ops.blendercnn.parameter_add(data_path="scale[0]", minimum=0.5, maximum=1.5) == {"FINISHED"}
    assert props.layout().names[-1] == "ball_scale_x" and props.parameters[-1].data_path == 'objects["Ball"].scale[0]'
    assert bpy.ops.blendercnn.parameter_remove() == {"FINISHED"}
    props.parameter_owner = None
    assert bpy.ops.blendercnn.parameter_move(step=-1) == {"FINISHED"}
    assert props.layout().names[0] == "ball_location_z"
    assert bpy.ops.blendercnn.parameter_remove() == {"FINISHED"}
    assert props.layout().names == ("r", "g", "b", "x", "y")
    props.parameters.add().data_path = "not a path"  # edited by hand in the list's field
    for panel in ("BLENDERCNN_PT_randomize", "BLENDERCNN_PT_dataset"):
        labels = [entry[1] for entry in draw(panel) if entry[0] == "label"]
        assert any("is not a Blender data path" in text for text in labels), (panel, labels)
    with pytest.raises(RuntimeError, match="is not a Blender data path"):
        bpy.ops.blendercnn.generate_dataset()


def test_dataset_panel_shows_progress_and_cancel_while_running(seed_scene):
    status = bpy.context.window_manager.blendercnn_status
    assert ("operator", "blendercnn.generate_dataset") in draw("BLENDERCNN_PT_dataset")
    status.running, status.done, status.total, status.eta_seconds = True, 3, 12, 75.0
    try:
        log = draw("BLENDERCNN_PT_dataset")
    finally:
        status.running = False
    assert ("progress", "3 / 12 · ETA 1m15s") in log
    assert ("operator", "blendercnn.cancel_generation") in log
    assert ("operator", "blendercnn.generate_dataset") not in log


def test_dataset_panel_offers_generate_and_train_and_the_recommended_count(seed_scene):

    recommendation = addon_module("recommendation")
    props = seed_scene.blendercnn
    props.count, props.resolution = 10_000, 64
    props.render_preset = "default"  # the learning curve's renders (at 64² the Quality starts at Seed's)
    recommended = recommendation.recommended_count(64)
    log = draw("BLENDERCNN_PT_dataset")
    assert ("operator_property", "then_train", True) in log, "no Generate & Train button"
    assert ("label", f"{recommended:,} images: the same model (±0.5 dB at 64²)") in log
    props.count = recommended
    assert not [entry for entry in draw("BLENDERCNN_PT_dataset") if "the same model" in str(entry)]
    props.count, props.resolution = 10_000, 256  # its own curve: a count only where that curve flattened
    at_256 = recommendation.recommended_count(256)
    shown = [entry for entry in draw("BLENDERCNN_PT_dataset") if "the same model" in str(entry)]
    assert shown == ([("label", f"{at_256:,} images: the same model (±0.5 dB at 256²)")] if at_256 else [])


def test_the_number_of_images_starts_at_the_recommendation_and_follows_the_resolution_until_typed(scene):
    """A new scene: the measured recommendation for its resolution (1,000 at 256²), the seed's 10,000 one
    click away; a new resolution takes its own until a number is typed."""
    recommendation = addon_module("recommendation")
    props = scene.blendercnn
    assert (props.resolution, props.count) == (256, recommendation.recommended_count(256))
    log = draw("BLENDERCNN_PT_dataset")
    assert any(e[0] == "label" and e[1].startswith("≈ ") and f"{props.count:,} images" in e[1] for e in log), log
    assert ("label", f"{props.count:,}: the measured recommendation (±0.5 dB at 256²)") in log
    assert ("operator", "blendercnn.use_seed_count") in log
    props.resolution = 64  # Seed's renders there (the Quality follows too), with their own measured count
    assert props.render_preset == "seed" and props.count == recommendation.default_count(64, "seed") == 2000
    assert ("label", "2,000 Seed renders: 38.39 dB at 64² (1,000: 37.78; 500: 37.15)") in draw("BLENDERCNN_PT_dataset")
    props.render_preset = "default"  # picked: the learning curve's count for Default's renders
    assert props.count == recommendation.recommended_count(64) and not props.count_typed
    assert bpy.ops.blendercnn.use_seed_count() == {"FINISHED"}
    assert props.count == 10_000 and props.count_typed
    props.resolution = 256  # typed (here: the seed's, by its button): a new resolution keeps it
    assert props.count == 10_000
    assert ("operator", "blendercnn.use_seed_count") not in draw("BLENDERCNN_PT_dataset")


def test_the_quality_follows_the_resolution_until_one_is_picked(scene):
    """Default at 256² (35 dB soonest), Seed at 64² (the best model); the panel says why. A picked
    Quality, or a hand-edited render setting, stays when the resolution changes."""
    props = scene.blendercnn
    assert (props.resolution, props.render_preset) == (256, "default")
    assert any(e[0] == "label" and e[1].startswith("Default reaches 35 dB soonest at 256²")
               for e in draw("BLENDERCNN_PT_dataset"))
    props.resolution = 64
    assert (props.render_preset, props.render_samples, props.denoiser) == ("seed", 32, "none")
    assert any(e[0] == "label" and e[1].startswith("Seed trains the best model at 64²") for e in draw("BLENDERCNN_PT_dataset"))
    props.resolution = 256
    assert (props.render_preset, props.render_samples) == ("default", 3)
    props.render_preset = "balanced"  # picked: kept
    props.resolution = 64
    assert props.render_preset == "balanced"
    props.render_samples = 7  # a hand edit: Custom, kept
    props.resolution = 256
    assert (props.render_preset, props.render_samples) == ("custom", 7)


def test_train_panel_shows_epoch_batch_figures_and_cancel_while_training(scene):
    status = bpy.context.window_manager.blendercnn_training
    assert ("operator", "blendercnn.train") in draw("BLENDERCNN_PT_train")
    values = dict(running=True, device="CPU", epoch=3, epochs=10, batch=5, batches=20, loss=0.0123,
                  val_loss=0.0150, val_psnr=18.24, elapsed_s=65.0, eta_s=130.0)
    saved = {name: getattr(status, name) for name in values}
    for name, value in values.items():
        setattr(status, name, value)
    try:
        log = draw("BLENDERCNN_PT_train")
    finally:
        for name, value in saved.items():
            setattr(status, name, value)
    assert ("progress", "Epoch 3 / 10") in log
    assert ("progress", "Batch 5 / 20 · loss 0.01230") in log
    labels = [entry[1] for entry in log if entry[0] == "label"]
    assert {"18.24 dB val PSNR · val loss 0.01500", "1m05s elapsed · ETA 2m10s · CPU"} <= set(labels)
    assert ("operator", "blendercnn.cancel_training") in log and ("operator", "blendercnn.train") not in log


def test_train_panel_offers_create_environment_when_no_tensorflow_python(scene):
    env = bpy.context.window_manager.blendercnn_env
    saved = env.checked, env.python, env.summary
    env.checked, env.python, env.summary = True, "", "no usable Python: /usr/bin/python3 lacks tensorflow"
    try:
        log = draw("BLENDERCNN_PT_train")
    finally:
        env.checked, env.python, env.summary = saved
    assert ("label", "No Python with TensorFlow found") in log
    assert ("operator", "blendercnn.create_environment") in log and ("prop", "environment_variant") in log


def test_quality_presets_fill_the_fields_and_hand_edits_make_custom(seed_scene):
    props = seed_scene.blendercnn
    assert props.render_preset == "default"
    assert (props.render_samples, props.denoiser, props.denoise_quality) == (3, "auto", "FAST")
    props.render_preset = "reference"
    assert (props.render_samples, props.denoise_quality, props.denoise_prefilter) == (256, "HIGH", "ACCURATE")
    assert props.render_preset == "reference"
    props.render_samples = 100
    assert props.render_preset == "custom"
    props.render_samples = 256  # back to what Reference stands for: recognised again
    assert props.render_preset == "reference"
    props.render_preset = "seed"
    settings = props.generation_settings("/tmp/x")
    assert (settings.samples, settings.denoiser, settings.sampling_pattern) == (32, "none", "TABULATED_SOBOL")
    labels = [entry[1] for entry in draw("BLENDERCNN_PT_dataset") if entry[0] == "label"]
    assert any(text.startswith("≈ ") and f"{props.count:,} images" in text for text in labels), labels
    props.render_preset = "default"


def test_dataset_panel_names_a_missing_gpu(seed_scene):
    props = seed_scene.blendercnn
    props.render_device = "CUDA"
    try:
        labels = [entry[1] for entry in draw("BLENDERCNN_PT_dataset") if entry[0] == "label"]
    finally:
        props.render_device = "CPU"
    assert "No CUDA GPU here: the CPU renders" in labels
    assert not [t for t in (e[1] for e in draw("BLENDERCNN_PT_dataset") if e[0] == "label") if "GPU" in t]


def test_the_batch_size_is_the_recipes_for_the_datasets_resolution_not_the_panels(scene, tmp_path):
    """Auto: Train passes no batch size or rate, so training takes the recipe at the *dataset's*
    resolution (a 256² dataset trains in 8 even with the Dataset panel at 64); the panel says so."""
    from blendercnn_addon.dataset_card import DatasetCard, DatasetIdentity
    from blendercnn_addon.dataset_format import DatasetFolder

    training_session = addon_module("blender.training_session")
    DatasetFolder(str(tmp_path)).write_card(DatasetCard(DatasetIdentity(resolution=256), count=1))
    props = scene.blendercnn
    props.resolution, props.train_data_dir = 64, str(tmp_path)
    assert props.recipe_auto
    argv = training_session._train_argv("python", props, str(tmp_path), str(tmp_path / "run"), resume=False)
    assert "--batch-size" not in argv and "--learning-rate" not in argv
    labels = [e[1] for e in draw("BLENDERCNN_PT_train") if e[0] == "label"]
    assert "Batch Size: Auto · 8 at 256²" in labels, labels
    assert ("prop", "batch_size") not in draw("BLENDERCNN_PT_train")
    props.architecture = "seed"
    assert "Batch Size: Auto · 32 at 256²" in [e[1] for e in draw("BLENDERCNN_PT_train") if e[0] == "label"]
    props.recipe_auto, props.batch_size = False, 7  # by hand: exactly what was typed
    argv = training_session._train_argv("python", props, str(tmp_path), str(tmp_path / "run"), resume=False)
    assert argv[argv.index("--batch-size") + 1] == "7" and "--learning-rate" in argv
    assert ("prop", "batch_size") in draw("BLENDERCNN_PT_train")


def test_the_panels_time_budget_reaches_train_in_seconds_for_new_and_resumed_runs(scene, tmp_path):
    training_session = addon_module("blender.training_session")
    props = scene.blendercnn
    argv = training_session._train_argv("python", props, str(tmp_path), str(tmp_path / "run"), resume=False)
    assert "--time-budget" not in argv  # no budget unless asked for
    props.time_budget_minutes = 30.0
    for resume in (False, True):  # a resumed run keeps to the budget too
        argv = training_session._train_argv("python", props, str(tmp_path), str(tmp_path / "run"), resume=resume)
        assert float(argv[argv.index("--time-budget") + 1]) == 1800.0
    assert ("prop", "time_budget_minutes") in draw("BLENDERCNN_PT_train_settings")


EXPERT_RENDER_FIELDS = {"denoiser", "denoise_quality", "denoise_prefilter", "denoise_passes", "sampling_pattern",
                        "render_device", "workers"}


def test_expert_settings_sit_in_collapsed_sub_panels(seed_scene):
    """Dataset shows what the dataset is and Generate; how it renders is one click away, closed."""
    for child, parent in (("BLENDERCNN_PT_dataset_render", "BLENDERCNN_PT_dataset"),
                          ("BLENDERCNN_PT_train_settings", "BLENDERCNN_PT_train")):
        cls = getattr(bpy.types, child)
        assert cls.bl_parent_id == parent and "DEFAULT_CLOSED" in cls.bl_options
    main = {e[1] for e in draw("BLENDERCNN_PT_dataset") if e[0] == "prop"}
    assert {"output_dir", "count", "resolution", "render_preset", "render_samples"} <= main
    assert not main & EXPERT_RENDER_FIELDS
    assert ("operator", "blendercnn.generate_dataset") in draw("BLENDERCNN_PT_dataset")
    assert EXPERT_RENDER_FIELDS <= {e[1] for e in draw("BLENDERCNN_PT_dataset_render") if e[0] == "prop"}
    settings = draw("BLENDERCNN_PT_train_settings")
    assert {"patience", "train_seed"} <= {e[1] for e in settings if e[0] == "prop"}
    assert ("label", "Learning Rate: Auto · 0.003") in settings  # the recipe's, until Auto is turned off
    seed_scene.blendercnn.recipe_auto = False
    assert ("prop", "learning_rate") in draw("BLENDERCNN_PT_train_settings")


def test_status_lines_lead_with_their_figures(seed_scene):
    status = bpy.context.window_manager.blendercnn_preview
    saved = status.state, status.latency_ms, status.resolution, status.device
    status.state, status.latency_ms, status.resolution, status.device = "READY", 17.4, 256, "CPU"
    try:
        labels = [e[1] for e in draw("BLENDERCNN_PT_preview") if e[0] == "label"]
    finally:
        status.state, status.latency_ms, status.resolution, status.device = saved
    assert "17 ms · 256×256 · CPU" in labels


def test_long_texts_wrap_into_rows_that_fit(addon):
    """fit.wrap: every row within the width, nothing lost, a path without spaces cut where it must."""

    fit = addon_module("blender.ui.fit")
    context = bpy.context
    text = "Finished · 400/400 · 294 new in /root/blendercnn-journey/files/a-very-long-folder-name/dataset"
    for width in (80, 150, 240):
        rows = fit.wrap(context, text, width)
        assert all(fit.text_width(context, row) <= width for row in rows), rows
        assert "".join(rows).replace(" ", "") == text.replace(" ", "")
    assert fit.wrap(context, "short", 240) == ["short"]


def test_the_training_curve_survives_blender_freeing_image_buffers(addon):
    """A generated image comes back black when Blender frees its buffers (seen in the window: the
    curve drawn during training showed black later); the add-on's images are packed and come back."""
    draw = addon_module("blender.training_session").draw_training_curve
    images = addon_module("blender.images")
    draw({1: (20.0, 0.1), 2: (23.5, 0.05)})
    curve = bpy.data.images[images.TRAINING_IMAGE]
    drawn = images.read_image(curve)
    assert drawn.max() > 0
    curve.buffers_free()
    assert (images.read_image(curve) == drawn).all()
    draw({1: (20.0, 0.1), 2: (23.5, 0.05), 3: (25.0, 0.04)})  # the next epoch redraws the packed image
    assert bpy.data.images[images.TRAINING_IMAGE] == curve and (images.read_image(curve) != drawn).any()
    bpy.data.images.remove(curve)
