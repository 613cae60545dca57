"""The user's journey in a real Blender window, driven by real mouse clicks and key presses.

Runs inside Blender (``blender --factory-startup --python drive.py -- OUT ZIP MODELS``) on an
X display (Xvfb). Every action a user takes is an ``xdotool`` mouse move, click or key press;
Python here only *looks*: it finds where buttons are, reads Blender's state and takes
screenshots. Buttons are found the way a user could: hover, press Ctrl+Shift+C (Blender's
"copy Python command / data path" of the button under the mouse), read the clipboard.

Steps run as a generator from a ``bpy.app.timers`` callback, so Blender keeps handling
events (and the clicks) between them. Results go to OUT/results.json, screenshots to
OUT/NN-name.png; the host checks both (tools/gui/check.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback

import bpy
import numpy as np

OUT, ZIP, MODELS = sys.argv[sys.argv.index("--") + 1:][:3]  # MODELS: prepare_models.py's
ADDON = "bl_ext.user_default.blendercnn_addon"
JOURNEY = "/root/blendercnn-journey/files"  # run_journey.sh starts every run with this folder gone
DATASET = JOURNEY + "/dataset"
EMPTY_DATASET = JOURNEY + "/empty"
RUN = JOURNEY + "/run"
DATASET_SIX = JOURNEY + "/dataset-six"
RUN_SIX = JOURNEY + "/run-six"


COPY_OPERATOR_KEY = "ctrl+shift+alt+p"


def add_probe_key() -> None:
    """Blender copies a property's data path with Ctrl+Shift+C, but has no default key that copies
    an operator button's Python command; give ui.copy_python_command_button one for the probe."""
    keymap = bpy.context.window_manager.keyconfigs.addon.keymaps.new("User Interface")
    keymap.keymap_items.new("ui.copy_python_command_button", "P", "PRESS", ctrl=True, shift=True, alt=True)


class JourneyFailed(Exception):
    pass


class Driver:
    """Real input through xdotool, and what Blender shows, in window and screen coordinates."""

    def __init__(self):
        self.shots: list[dict] = []
        self.checks: list[dict] = []
        self.found: tuple[int, int] | None = None
        self.seen: dict[tuple[str, float], tuple[int, int]] = {}  # (wanted, x_fraction) -> (page, y)
        self.reports_seen = 0
        self.figures: dict = {}  # measured in the window, written to results.json

    # -- input -------------------------------------------------------------------------------
    @staticmethod
    def xdo(*args: str) -> None:
        subprocess.run(["xdotool", *args], check=True)

    def move(self, x: int, y: int) -> None:
        self.xdo("mousemove", str(x), str(y))

    def click(self, x: int, y: int, modifier: str | None = None) -> None:
        self.move(x, y)
        if modifier:
            self.xdo("keydown", modifier, "click", "1", "keyup", modifier)
        else:
            self.xdo("click", "1")

    def key(self, *keys: str) -> None:
        self.xdo("key", "--delay", "40", *keys)

    def type(self, text: str) -> None:
        self.xdo("type", "--delay", "30", "--", text)

    # -- where things are ----------------------------------------------------------------------
    @staticmethod
    def window():
        return bpy.context.window_manager.windows[0]

    def view3d(self):
        return next(a for a in self.window().screen.areas if a.type == "VIEW_3D")

    def sidebar(self):
        return next(r for r in self.view3d().regions if r.type == "UI")

    def to_screen(self, region, x: int, y_from_top: int) -> tuple[int, int]:
        """Region-local (x, y from the region's top) → X screen pixels (window at 0, 0)."""
        return region.x + x, self.window().height - (region.y + region.height) + y_from_top

    def scroll_sidebar(self, clicks: int) -> None:
        """Mouse wheel over the sidebar: positive scrolls down."""
        ui = self.sidebar()
        self.move(*self.to_screen(ui, ui.width // 2, ui.height // 2))
        self.xdo("click", "--repeat", str(abs(clicks)), "--delay", "15", "5" if clicks > 0 else "4")

    def find(self, wanted: str, x_fraction: float = 0.5, step: int = 12):
        """Hover down the sidebar, Ctrl+Shift+C at each stop, until the clipboard names ``wanted``
        (an operator call like 'blendercnn.train(' or a property path like 'blendercnn.count').
        Scrolls down a page at a time when the button is below the visible part. Where a button
        was found before is tried first (the layout seldom moves), then the whole sidebar."""
        remembered = self.seen.get((wanted, x_fraction))
        if remembered is not None:
            yield from self._scroll_to_page(remembered[0])
            region = self.sidebar()
            yield from self.probe_at(*self.to_screen(region, int(region.width * x_fraction), remembered[1]), wanted)
            if self.found:
                return
        for attempt in range(2):
            for page in range(4):
                yield from self._scroll_to_page(page)
                region = self.sidebar()
                for t in range(30, region.height - 4, step):
                    yield from self.probe_at(*self.to_screen(region, int(region.width * x_fraction), t), wanted)
                    if self.found:
                        self.seen[(wanted, x_fraction)] = (page, t)
                        return
            # Once seen in CI after an error report: no probe answered on any page. A popup or a
            # tooltip can hold the keyboard; Esc over the 3D view frees it (and changes nothing there).
            self.move(*self.area_centre("VIEW_3D"))
            self.key("Escape")
            yield 1.0
        raise JourneyFailed(f"no button {wanted!r} in the sidebar")

    def _scroll_to_page(self, page: int):
        """Scroll the sidebar to its top, then ``page`` pages down (12 wheel clicks each)."""
        for _ in range(2):  # twice: a popup closing under the mouse can swallow the first scroll
            self.scroll_sidebar(-40)
            yield 0.2
        if page:
            self.scroll_sidebar(12 * page)
            yield 0.3

    def probe_at(self, x: int, y: int, wanted: str):
        """Is ``wanted`` the button at (x, y)? Sets self.found when it is."""
        wm = bpy.context.window_manager
        wm.clipboard = ""
        self.move(x, y)
        yield 0.02
        self.key(COPY_OPERATOR_KEY if wanted.endswith("(") else "ctrl+shift+c")
        yield 0.05
        self.found = (x, y) if wanted in wm.clipboard else None

    def component_centres(self, y: int, prop: str):
        """Centres (screen x) of a vector property's fields on the row at screen y, by index:
        Ctrl+Shift+Alt+C copies the full data path, which ends in '.prop[i]' over component i."""
        wm = bpy.context.window_manager
        region = self.sidebar()
        left = self.to_screen(region, 0, 0)[0]
        seen: dict[int, list[int]] = {}
        for x in range(left + 4, left + region.width - 4, 4):
            wm.clipboard = ""
            self.move(x, y)
            yield 0.02
            self.key("ctrl+shift+alt+c")
            yield 0.04
            text = wm.clipboard
            marker = f".{prop}["
            if marker in text:
                index = int(text[text.index(marker) + len(marker):].split("]")[0])
                seen.setdefault(index, []).append(x)
        return {index: (min(xs) + max(xs)) // 2 for index, xs in seen.items()}

    def press(self, wanted: str, **find):
        """Find the button and click it."""
        yield from self.find(wanted, **find)
        self.click(*self.found)
        yield 0.3

    def enter_value(self, wanted: str, text: str):
        """Find a field and type ``text`` into it."""
        yield from self.find(wanted)
        yield from self.type_into(*self.found, text)

    def type_into(self, x: int, y: int, text: str, start_with_enter: bool = False):
        """Double-click the field at (x, y) (or hover it and press Enter: colour components are
        sliders, where a double-click can turn into a drag), select all, type, Enter."""
        self.move(x, y)
        yield 0.05
        if start_with_enter:
            self.key("Return")
        else:
            self.xdo("click", "--repeat", "2", "--delay", "80", "1")
        yield 0.2
        self.key("ctrl+a")
        self.type(text)
        self.key("Return")
        yield 0.3

    def areas(self, kind: str) -> list:
        return [a for a in self.window().screen.areas if a.type == kind]

    def area(self, kind: str):
        return self.areas(kind)[0]

    def area_centre(self, area_or_kind) -> tuple[int, int]:
        area = self.area(area_or_kind) if isinstance(area_or_kind, str) else area_or_kind
        main = next(r for r in area.regions if r.type == "WINDOW")
        return self.to_screen(main, main.width // 2, main.height // 2)

    def image_rect(self, area, image) -> list[int]:
        """Screen rectangle [x, y, w, h] of a fitted image: view_to_region of its corners."""
        main = next(r for r in area.regions if r.type == "WINDOW")
        view = main.view2d
        x0, y0 = view.view_to_region(0.0, 0.0, clip=False)
        x1, y1 = view.view_to_region(1.0, 1.0, clip=False)
        left, top = self.to_screen(main, x0, main.height - y1)
        return [left, top, x1 - x0, y1 - y0]

    def editor_views(self, stem: str) -> list[dict]:
        """What each Image Editor shows, for check.py to compare with the screenshot's pixels: the
        editor's main region and the image's rectangles on screen ([x, y, w, h]), and the image's
        own pixels (OUT/STEM-view-N.npy, (H, W, 3) uint8, top row first)."""
        read_image = sys.modules[ADDON + ".blender.images"].read_image
        views = []
        for area in self.areas("IMAGE_EDITOR"):
            image = area.spaces.active.image
            if image is None or image.size[0] == 0:
                continue
            main = next(r for r in area.regions if r.type == "WINDOW")
            pixels = f"{stem}-view-{len(views)}.npy"
            np.save(os.path.join(OUT, pixels), read_image(image))
            glyph = 5 * sys.modules[ADDON + ".training_curve"].GLYPH_SCALE if image.name == "BlenderCNN Training" else 0
            views.append({"image": image.name, "size": list(image.size), "pixels": pixels, "glyph_height": glyph,
                          "editor_rect": [*self.to_screen(main, 0, 0), main.width, main.height],
                          "image_rect": self.image_rect(area, image)})
        return views

    # -- evidence ------------------------------------------------------------------------------
    def shot(self, name: str, **facts) -> None:
        path = os.path.join(OUT, f"{len(self.shots) + 1:02d}-{name}.png")
        subprocess.run(["import", "-window", "root", path], check=True)
        ui = self.sidebar()
        x0, y0 = self.to_screen(ui, 0, 0)
        self.shots.append({"name": name, "path": os.path.basename(path), "time": time.time(),
                           "sidebar": [x0, y0, ui.width, ui.height],
                           "views": self.editor_views(os.path.basename(path)[:-4]), **facts})

    def check(self, what: str, ok: bool, detail="") -> None:
        self.checks.append({"check": what, "ok": bool(ok), "detail": str(detail)})
        print(f"[journey] {'ok  ' if ok else 'FAIL'} {what} {detail}", flush=True)
        if not ok:
            raise JourneyFailed(f"{what}: {detail}")

    def wait_for(self, condition, timeout: float, what: str, every: float = 0.25):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise JourneyFailed(f"timed out after {timeout:.0f} s waiting for {what}")
            yield every


def bright_spot(image) -> list[float]:
    """Centroid (x, y from the top, both 0..1) of the brightest 2 % of an image's pixels."""
    import numpy as np

    width, height = image.size
    rgba = np.empty(width * height * 4, np.float32)
    image.pixels.foreach_get(rgba)
    luminance = rgba.reshape(height, width, 4)[::-1, :, :3].sum(axis=2)
    rows, cols = np.nonzero(luminance >= np.quantile(luminance, 0.98))
    return [float(cols.mean() + 0.5) / width, float(rows.mean() + 0.5) / height]


def status(name: str):
    return getattr(bpy.context.window_manager, name)


def journey(d: Driver):
    """The product card's journey, step by step: each step a generator the window's timer advances."""
    add_probe_key()
    steps = (install_and_open_the_tab, set_up_and_randomize, generate_a_tiny_dataset, cancel_and_resume,
             train_in_a_new_environment, preview_and_type_a_vector, render_real_beside_it, estimate_from_image,
             preview_latency_at_256, follow_a_dragged_ball, the_model_as_the_render_engine,
             six_parameters_by_right_click, an_error_and_blender_goes_on)
    only = os.environ.get("BLENDERCNN_JOURNEY_STEPS")  # a developer's shortcut: some steps, by name
    for step in steps:
        if not only or step.__name__ in only.split(","):
            yield from step(d)


def install_and_open_the_tab(d: Driver):
    """1. Install the zip through the Preferences install operator; open the sidebar; click the tab."""
    prefs = bpy.context.preferences
    result = bpy.ops.extensions.package_install_files(filepath=ZIP, repo="user_default", enable_on_install=True)
    d.check("extension installs from its zip", result == {"FINISHED"} and ADDON in prefs.addons, result)
    # No TensorFlow Python is set or on PATH: a new user's first run (Create Environment, step 4).
    yield 1.0
    area = d.view3d()
    x, y = d.to_screen(area.regions[-1], area.width // 2, area.height // 2)
    d.move(x, y)
    d.key("ctrl+space")  # maximise the 3D view: room for the whole sidebar
    yield 0.8
    d.key("n") if not d.view3d().spaces.active.show_region_ui else None
    yield 0.8
    yield from open_sidebar_tab(d, "BlenderCNN")
    d.shot("tab")


def open_sidebar_tab(d: Driver, name: str):
    """Click down the sidebar's tab strip (its right edge) until tab ``name`` is the active one."""
    ui = d.sidebar()
    for t in range(40, ui.height // 2, 12):
        if d.sidebar().active_panel_category == name:
            break
        d.click(*d.to_screen(ui, ui.width - 12, t))
        yield 0.25
    d.check(f"{name} tab clicked", d.sidebar().active_panel_category == name, d.sidebar().active_panel_category)


def set_up_and_randomize(d: Driver):
    """2. Set Up Scene, then Randomize twice: the ball moves, the colour changes."""
    yield from d.press("blendercnn.setup_scene(")
    scene = bpy.context.scene
    d.check("Set Up Scene built the ball", "Ball" in scene.objects and "Glow" in bpy.data.materials)
    space = d.view3d().spaces.active
    d.check("Set Up Scene shows the scene as it renders (Rendered shading, through the camera)",
            space.shading.type == "RENDERED" and space.region_3d.view_perspective == "CAMERA",
            (space.shading.type, space.region_3d.view_perspective))
    d.shot("scene-set-up")
    ball = scene.objects["Ball"]
    glow = bpy.data.materials["Glow"].node_tree.nodes["Emission"].inputs["Color"]
    seen = [(tuple(ball.location), tuple(glow.default_value))]
    for click in (1, 2):
        yield from d.press("blendercnn.randomize(")
        seen.append((tuple(ball.location), tuple(glow.default_value)))
        d.check(f"Randomize #{click} moved the ball and changed the colour",
                seen[-1][0] != seen[-2][0] and seen[-1][1] != seen[-2][1], seen[-1])
    yield 4.0  # the viewport's few Cycles samples
    colour_seen = viewport_colour_at_ball(d, ball)
    d.shot("randomized", ball=list(ball.location), viewport_colour=colour_seen["seen"])
    d.figures["viewport_shows_ball_colour"] = colour_seen["match"]
    d.check("the viewport shows the ball in the colour Randomize picked", colour_seen["match"], colour_seen)


def generate_a_tiny_dataset(d: Driver):
    """3. A tiny dataset: progress across screenshots while the viewport still responds."""
    scene = bpy.context.scene
    recommended = sys.modules[ADDON + ".recommendation"].recommended_count(scene.blendercnn.resolution)
    d.figures["default_image_count"] = scene.blendercnn.count
    d.check("the number of images starts at the measured recommendation for the resolution",
            scene.blendercnn.count == recommended, (scene.blendercnn.count, recommended))
    d.shot("dataset-defaults", count=scene.blendercnn.count, resolution=scene.blendercnn.resolution)
    yield from d.enter_value("blendercnn.output_dir", DATASET)
    yield from d.enter_value("blendercnn.count", "60")
    yield from d.enter_value("blendercnn.resolution", "32")
    d.check("the Quality follows the resolution: Seed's unbiased renders train best at 32² (the 64² measurement)",
            scene.blendercnn.render_preset == "seed", scene.blendercnn.render_preset)
    yield from d.enter_value("blendercnn.render_samples", "4")
    props = scene.blendercnn
    d.check("dataset fields typed", (props.output_dir, props.count, props.resolution, props.render_samples)
            == (DATASET, 60, 32, 4), (props.output_dir, props.count, props.resolution, props.render_samples))
    yield from d.press("blendercnn.generate_dataset(")
    bar_y = d.found[1]  # the progress bar replaces the Generate button in its row
    d.figures["generate_visible_without_scroll"] = d.seen[("blendercnn.generate_dataset(", 0.5)][0] == 0
    d.check("Generate Dataset is visible without scrolling (Scene, Randomize and Dataset open)",
            d.figures["generate_visible_without_scroll"], d.seen[("blendercnn.generate_dataset(", 0.5)])
    job = status("blendercnn_status")
    d.check("Generate Dataset runs modally", job.running, job.message)
    view = d.view3d().spaces.active.region_3d
    distance = (view.view_distance, view.view_camera_zoom)  # camera view zooms the latter
    d.move(*d.to_screen(d.view3d().regions[-1], 500, 400))
    d.xdo("click", "--repeat", "3", "--delay", "50", "5")  # zoom the viewport while rendering
    yield from d.wait_for(lambda: job.done >= 1, 60, "the workers' first image", every=0.05)
    progress = []
    for _ in range(3):
        yield 0.3
        progress.append(job.done)
        d.shot("generating", done=job.done, total=job.total, bar_y=bar_y)
    bar = sys.modules[ADDON + ".blender.status_bar"].active()
    d.check("Blender's own progress indicator follows the generation", "generate" in bar, bar)
    d.check("viewport responds while generating", (view.view_distance, view.view_camera_zoom) != distance,
            (distance, view.view_distance, view.view_camera_zoom))
    d.check("progress advances across screenshots", progress == sorted(progress) and progress[-1] > progress[0],
            progress)
    yield from d.wait_for(lambda: not job.running, 120, "the dataset")
    files = sorted(f for f in os.listdir(DATASET) if f.endswith(".png"))
    d.check("60 images written", len(files) == 60, len(files))
    with open(os.path.join(DATASET, "dataset.json")) as handle:
        card_render = json.load(handle)["render"]
    d.check("rendered by background Blender workers", card_render.get("worker_processes_started", 0) >= 1,
            card_render)
    d.shot("dataset-done", message=job.message)


def cancel_and_resume(d: Driver):
    """... then Cancel a second, larger run half-way, and resume it."""
    job = status("blendercnn_status")
    yield from d.enter_value("blendercnn.count", "400")
    yield from d.press("blendercnn.generate_dataset(")
    generate_at = d.found
    yield from d.wait_for(lambda: job.done >= 100, 120, "a part of the second run (60 were there)", every=0.05)
    # Cancel sits under the progress bar, which took the place of the lines above Generate (the time
    # estimate, the advice on the count and on the Quality): near Generate's row, above or below it.
    for below in (0, -10, 10, -20, 20, -30, 30, -40, 40, -50, 50, -60, 60, -70, 70, -80, -90, -100):
        yield from d.probe_at(generate_at[0], generate_at[1] + below, "blendercnn.cancel_generation(")
        if d.found:
            break
    d.check("Cancel shows under the progress bar", d.found is not None)
    d.click(*d.found)
    yield from d.wait_for(lambda: not job.running, 30, "the cancel")
    cancelled_at = job.done
    d.check("Cancel stopped the run part-way", 100 <= cancelled_at < 400, cancelled_at)
    d.shot("cancelled", done=cancelled_at)
    yield from d.press("blendercnn.generate_dataset(")
    yield from d.wait_for(lambda: not job.running, 120, "the resumed run")
    files = sorted(f for f in os.listdir(DATASET) if f.endswith(".png"))
    d.check("resume finished the dataset", len(files) == 400 and job.done == 400, (len(files), job.message))
    d.shot("resumed", message=job.message)


def train_in_a_new_environment(d: Driver):
    """4. Train, tiny: a new user has no TensorFlow Python; Create Environment makes one (from the
    root's wheel folder, $BLENDERCNN_WHEEL_FOLDER); then epoch, loss and progress live, then done."""
    yield from d.enter_value("blendercnn.run_dir", RUN)
    yield from d.enter_value("blendercnn.epochs", "2")
    yield from create_environment(d)
    yield from d.press("blendercnn.train(")
    training = status("blendercnn_training")
    d.check("Train started a subprocess", training.running, training.error or training.message)
    yield from d.wait_for(lambda: training.batch > 0 or not training.running, 180, "the first batch")
    d.shot("training", epoch=training.epoch, batch=training.batch, loss=training.loss)
    yield from d.wait_for(lambda: not training.running, 300, "training")
    d.check("training finished", training.message.startswith("Finished") and os.path.isfile(RUN + "/model.keras"),
            training.error or training.message)
    env_python = status("blendercnn_env").python
    d.figures["created_environment"] = bool(env_python) and env_python.startswith(
        sys.modules[ADDON + ".blender.preferences"].environment_dir())
    d.check("Train ran in the environment the journey created", d.figures["created_environment"], env_python)
    curve = bpy.data.images.get("BlenderCNN Training")
    d.figures["training_curve_epochs"] = int(curve["epochs"]) if curve is not None else 0
    d.check("the training curve has a point per epoch", d.figures["training_curve_epochs"] >= 2,
            d.figures["training_curve_epochs"])
    recipe = sys.modules[ADDON + ".run_config"].read_run_config(RUN).recipe
    d.check("Batch Size Auto trained with the recipe for the dataset's 32² images",
            recipe.batch_size == sys.modules[ADDON + ".architectures"].recipe(recipe.arch, 32)["batch_size"],
            (recipe.arch, recipe.batch_size))
    d.shot("trained", message=training.message, val_psnr=training.val_psnr)


def preview_and_type_a_vector(d: Driver):
    """5. Preview: an Image Editor beside the viewport, Load Model, type R, G, B and X, Y."""
    d.move(*d.to_screen(d.view3d().regions[-1], 400, 300))
    d.key("ctrl+space")  # back to the normal layout
    yield 0.8
    d.move(*d.area_centre("PROPERTIES"))
    d.key("shift+F10")  # the Properties editor becomes an Image Editor
    yield 0.8
    # The journey's own 2-epoch model proves Train; the preview shows one trained long enough to be
    # recognisably the ball (prepare_models.py, 64², same Blender), typed into the Model field.
    yield from d.enter_value("blendercnn.preview_model", MODELS + "/run64")
    yield from d.press("blendercnn.load_preview(")
    preview = status("blendercnn_preview")
    yield from d.wait_for(lambda: preview.state in {"READY", "ERROR"}, 120, "the model to load")
    d.check("the preview worker loaded the model", preview.state == "READY", preview.message)
    yield from d.find("blendercnn_preview.preview_x", x_fraction=0.25)
    x_field = d.found
    yield from d.type_into(*x_field, "0.6")
    yield from d.find("blendercnn_preview.preview_y", x_fraction=0.75)
    yield from d.type_into(*d.found, "-0.4")
    yield from d.find("blendercnn_preview.preview_x", x_fraction=0.25)
    x_field = d.found
    for above in range(4, 40, 3):  # the R, G, B row is right above X, Y
        yield from d.probe_at(x_field[0], x_field[1] - above, "blendercnn_preview.preview_colour")
        if d.found:
            break
    d.check("R, G, B fields found above X, Y", d.found is not None)
    row_y = d.found[1] - 7  # from the row's lower edge into its middle
    components = yield from d.component_centres(row_y, "preview_colour")
    d.check("R, G, B located by their full data paths", sorted(components) == [0, 1, 2], components)
    for index, text in ((0, "1"), (1, "0.25"), (2, "0")):
        yield from d.type_into(components[index], row_y, text, start_with_enter=True)
    typed = [round(v, 4) for v in preview.preview_vector()]
    d.check("R, G, B, X, Y typed into the Preview panel", typed == [1.0, 0.25, 0.0, 0.6, -0.4], typed)
    session = sys.modules[ADDON + ".blender.background"].get("preview")
    yield from d.wait_for(lambda: session.in_flight is None and session.waiting is None, 30, "the preview image")
    image = bpy.data.images.get("BlenderCNN Preview")
    editor = d.area("IMAGE_EDITOR")
    d.check("the preview appears in the Image Editor", image is not None and editor.spaces.active.image == image,
            editor.spaces.active.image)
    yield 0.6  # no View Fit here: the add-on frames the image it shows (check.py reads the pixels)
    d.shot("preview", image_rect=d.image_rect(editor, image), spot=bright_spot(image),
           latency_ms=preview.latency_ms)


def render_real_beside_it(d: Driver):
    """... and Render Real beside it, in a second Image Editor; Difference and the training curve."""
    preview, image = status("blendercnn_preview"), bpy.data.images["BlenderCNN Preview"]
    d.move(*d.area_centre("OUTLINER"))
    d.key("shift+F10")
    yield 0.8
    yield from d.press("blendercnn.render_real(")
    yield from d.wait_for(lambda: bpy.data.images.get("BlenderCNN Real") is not None, 60, "the real render")
    yield 0.5
    real = bpy.data.images["BlenderCNN Real"]
    shown = [a.spaces.active.image for a in d.areas("IMAGE_EDITOR")]
    d.check("Render Real shows the real image beside the preview", real in shown and image in shown, shown)
    d.check("the panel shows the PSNR between them", preview.real_psnr > 0, preview.real_psnr)
    d.check("the preview matches its real render at 28 dB or more", preview.real_psnr >= 28.0, preview.real_psnr)
    d.figures["preview_vs_real_psnr_db"] = round(preview.real_psnr, 2)
    yield 0.4
    real_editor = next(a for a in d.areas("IMAGE_EDITOR") if a.spaces.active.image == real)
    d.shot("preview-and-real", real_rect=d.image_rect(real_editor, real), real_spot=bright_spot(real),
           psnr=preview.real_psnr)
    # Model | Difference ×4 share a row: Difference is its right half; the Train panel's Curve |
    # TensorBoard row has Curve on the left, above Preview's Model.
    yield from d.press("blendercnn.show_image(", x_fraction=0.75)
    shown = [a.spaces.active.image.name for a in d.areas("IMAGE_EDITOR") if a.spaces.active.image]
    d.check("Difference ×4 shows beside the model's image", "BlenderCNN Difference" in shown
            and "BlenderCNN Preview" in shown, shown)
    d.shot("difference")
    yield from d.press("blendercnn.show_image(", x_fraction=0.25)
    shown = [a.spaces.active.image.name for a in d.areas("IMAGE_EDITOR") if a.spaces.active.image]
    d.check("the training curve shows in the Image Editor", "BlenderCNN Training" in shown, shown)
    yield 0.4
    d.shot("training-curve")
    real_editor.spaces.active.image = real  # as a user picks Real again from the editor's image menu


def estimate_from_image(d: Driver):
    """... then the reverse: Estimate from Image on the real render moves the ball where it was rendered."""
    preview = status("blendercnn_preview")
    ball = bpy.context.scene.objects["Ball"]
    yield from d.press("blendercnn.estimate_from_image(")
    yield from d.wait_for(lambda: bool(preview.estimate), 60, "the estimate")
    found = [ball.location.x, ball.location.y]
    glow = list(bpy.data.materials["Glow"].node_tree.nodes["Emission"].inputs["Color"].default_value)[:3]
    d.check("Estimate from Image put the ball where Render Real rendered it",
            abs(found[0] - 0.6) < 0.05 and abs(found[1] + 0.4) < 0.05, (found, preview.estimate))
    d.check("... and gave it the rendered colour", max(abs(a - b) for a, b in zip(glow, (1.0, 0.25, 0.0))) < 0.1,
            glow)
    d.figures["estimate_position_error_m"] = round(((found[0] - 0.6) ** 2 + (found[1] + 0.4) ** 2) ** 0.5, 4)
    d.shot("estimated", estimate=preview.estimate)


def field_with_path(d: Driver, start: tuple[int, int], ending: str, rows: int = 120, step: int = 3):
    """Screen (x, y) of the field under ``start`` or below it whose full data path (Ctrl+Shift+Alt+C)
    ends in ``ending``; None if none within ``rows`` pixels (probed every ``step``)."""
    wm = bpy.context.window_manager
    for below in range(0, rows, step):
        wm.clipboard = ""
        d.move(start[0], start[1] + below)
        yield 0.02
        d.key("ctrl+shift+alt+c")
        yield 0.04
        if wm.clipboard.endswith(ending):
            return start[0], start[1] + below
    return None


def six_parameters_by_right_click(d: Driver):
    """7. A sixth parameter, as a user adds one: the ball selected, the sidebar's Item tab, a right-click
    on Location Z ▸ Add to BlenderCNN Parameters; its range typed in the Parameters list; then a tiny
    dataset, training and the Preview with six numbers."""
    scene = bpy.context.scene
    props, ball = scene.blendercnn, scene.objects["Ball"]
    env = status("blendercnn_env")
    if not env.python and os.environ.get("BLENDERCNN_JOURNEY_PYTHON"):  # the developer's shortcut only
        bpy.context.preferences.addons[ADDON].preferences.python_path = os.environ["BLENDERCNN_JOURNEY_PYTHON"]
    scene.render.engine = "CYCLES"
    d.view3d().spaces.active.shading.type = "SOLID"  # the viewport idles while the dataset renders
    bpy.context.view_layer.objects.active = ball  # the Item tab shows the active object's transform
    ball.select_set(True)
    yield from open_sidebar_tab(d, "Item")
    yield from d.find("location")
    z_field = yield from field_with_path(d, d.found, ".location[2]")  # the Item tab stacks X, Y, Z
    d.check("Location Z located in the Item tab", z_field is not None, d.found)
    d.move(*z_field)
    yield 0.2
    d.xdo("click", "3")  # the property's right-click menu
    yield 0.8
    d.shot("property-menu")  # its last entry: Add to BlenderCNN Parameters, B underlined
    # A menu's buttons answer no copy key, so the entry is chosen as a keyboard user does: by its
    # underlined letter (Blender 4.3 gives this menu's B to it alone).
    d.key("b")
    yield 0.8
    names = props.layout().names
    d.check("the ball's z joined the five as a sixth parameter", names == ("r", "g", "b", "x", "y", "ball_location_z"),
            names)
    yield from open_sidebar_tab(d, "BlenderCNN")
    yield from d.find("blendercnn.parameters[1].minimum", x_fraction=0.25)  # Min | Max share a row
    yield from d.type_into(*d.found, "0.3")
    yield from d.find("blendercnn.parameters[1].maximum", x_fraction=0.75)
    yield from d.type_into(*d.found, "0.8")
    d.check("its range typed in the Parameters list", abs(props.parameters[1].minimum - 0.3) < 1e-6
            and abs(props.parameters[1].maximum - 0.8) < 1e-6, (props.parameters[1].minimum, props.parameters[1].maximum))
    d.shot("six-parameters")
    yield from d.press("blendercnn.randomize(")
    d.check("Randomize sets the sixth too", 0.3 <= ball.location.z <= 0.8 and abs(ball.location.z - 0.5) > 1e-6,
            ball.location.z)
    for name, value in (("output_dir", DATASET_SIX), ("count", "60"), ("resolution", "32"), ("render_samples", "4")):
        yield from d.enter_value(f"blendercnn.{name}", value)
    job = status("blendercnn_status")
    yield from d.press("blendercnn.generate_dataset(")
    yield from d.wait_for(lambda: not job.running, 180, "the six-parameter dataset")
    with open(os.path.join(DATASET_SIX, "vectors.csv")) as handle:
        header = handle.readline().strip().split(",")
    d.check("the dataset's tables name the sixth column", header[2:8] == ["r", "g", "b", "x", "y", "ball_location_z"],
            header)
    yield from d.enter_value("blendercnn.train_data_dir", DATASET_SIX)
    yield from d.enter_value("blendercnn.run_dir", RUN_SIX)
    yield from d.enter_value("blendercnn.epochs", "2")
    training = status("blendercnn_training")
    yield from d.press("blendercnn.train(")
    yield from d.wait_for(lambda: not training.running, 300, "training on six")
    trained = os.path.isfile(RUN_SIX + "/model.keras")
    d.check("a model of six numbers trained", trained, training.error or training.message)
    arch = sys.modules[ADDON + ".run_config"].read_run_config(RUN_SIX).arch if trained else None
    d.check("... with radiance, the ball's height being the ball room's", arch == "radiance", arch)
    yield from d.enter_value("blendercnn.preview_model", RUN_SIX)
    yield from d.press("blendercnn.load_preview(")
    preview = status("blendercnn_preview")
    yield from d.wait_for(lambda: preview.state in {"READY", "ERROR"}, 120, "the six-number model to load")
    d.check("the Preview has a field per parameter", preview.parameter_names.split(",")[5:] == ["ball_location_z"],
            preview.parameter_names)
    session = sys.modules[ADDON + ".blender.background"].get("preview")
    sixth = None
    for page in range(4):  # the sixth field may sit below the window's edge: a page at a time
        yield from d._scroll_to_page(page)
        region = d.sidebar()
        top = d.to_screen(region, region.width // 2, 30)
        sixth = yield from field_with_path(d, top, "parameter_values[5]", rows=region.height - 40, step=6)
        if sixth:
            break
    d.check("the sixth field found", sixth is not None)
    yield from d.type_into(*sixth, "0.75", start_with_enter=True)
    d.check("the height typed into the Preview", abs(preview.preview_vector()[5] - 0.75) < 1e-6,
            preview.preview_vector())
    yield from d.wait_for(lambda: session.in_flight is None and session.waiting is None and session.shown
                          and abs(session.shown[-1].vector[5] - 0.75) < 1e-6, 30, "the preview of six numbers")
    d.figures["six_parameter_preview"] = True
    yield 0.6
    d.shot("six-parameter-preview", vector=[round(v, 3) for v in preview.preview_vector()])


def an_error_and_blender_goes_on(d: Driver):
    """6. An error a user meets: Train on an empty folder. A readable report; Blender goes on."""
    training = status("blendercnn_training")
    os.makedirs(EMPTY_DATASET, exist_ok=True)
    run_files = sorted(os.listdir(RUN))
    yield from d.enter_value("blendercnn.train_data_dir", EMPTY_DATASET)
    yield from d.enter_value("blendercnn.run_dir", RUN + "-second")
    yield from d.press("blendercnn.train(")
    yield 0.5
    d.check("Train on an empty folder starts nothing", not training.running and not os.path.exists(RUN + "-second")
            and sorted(os.listdir(RUN)) == run_files)
    d.shot("error-report")
    d.move(*d.area_centre("VIEW_3D"))  # a user moves on: the report popup closes when the mouse leaves it
    yield 1.5
    before = tuple(bpy.context.scene.objects["Ball"].location)
    yield from d.press("blendercnn.randomize(")
    d.check("Blender keeps working after the error", tuple(bpy.context.scene.objects["Ball"].location) != before)
    cut = sys.modules[ADDON + ".blender.ui.fit"].truncated()
    drawn = sys.modules[ADDON + ".blender.ui.fit"].DRAWN
    d.figures.update(truncated_texts=len(cut), truncated_text_list=cut, measured_texts=len(drawn))
    d.check(f"every text the panels drew fits the sidebar ({len(drawn)} measured)", not cut, cut)


def viewport_colour_at_ball(d: Driver, ball) -> dict:
    """Does the 3D viewport show the ball's emission colour? The glowing ball itself renders near
    white (strength 300), so its colour is read where a user sees it: in its light on the walls and
    its reflection on the floor. From a screenshot of the viewport's main region, the most colourful
    tenth of its pixels must have the colour's dominant channel, a chroma (colour minus its grey)
    pointing the same way (cosine ≥ 0.8) and a visible strength (max − min ≥ 0.1). Solid shading's
    grey room fails all three."""
    import numpy as np

    area = d.view3d()
    region = next(r for r in area.regions if r.type == "WINDOW")
    pixels = screenshot_pixels()  # top row first, as the screen
    left, top = d.to_screen(region, 0, 0)
    sidebar_left = d.to_screen(d.sidebar(), 0, 0)[0]
    view = pixels[top + 40:top + region.height - 40, left + 60:min(sidebar_left, left + region.width) - 60]
    view = view.reshape(-1, 3)
    colourful = view[np.argsort(view.max(axis=1) - view.min(axis=1))[-len(view) // 10:]]
    seen = colourful.mean(axis=0)
    wanted = np.array(list(bpy.data.materials["Glow"].node_tree.nodes["Emission"].inputs["Color"].default_value)[:3])
    chroma_seen, chroma_wanted = seen - seen.mean(), wanted - wanted.mean()
    norms = float(np.linalg.norm(chroma_seen) * np.linalg.norm(chroma_wanted))
    cosine = float(chroma_seen @ chroma_wanted) / norms if norms > 1e-6 else 0.0
    strength = float(seen.max() - seen.min())
    match = bool(int(np.argmax(seen)) == int(np.argmax(wanted)) and cosine >= 0.8 and strength >= 0.1)
    return {"match": match, "seen": [round(float(v), 3) for v in seen], "wanted": [round(float(v), 3) for v in wanted],
            "cosine": round(cosine, 3), "strength": round(strength, 3), "ball": list(ball.location)[:2]}


def create_environment(d: Driver):
    """A new user's first Train: no TensorFlow Python, one line saying so, Create Environment, wait."""
    env = status("blendercnn_env")
    yield from d.press("blendercnn.train(")
    yield 0.5
    d.check("Train without TensorFlow starts nothing and says why", not status("blendercnn_training").running
            and env.checked and not env.python, env.summary)
    d.shot("no-tensorflow", summary=env.summary)
    d.move(*d.area_centre("VIEW_3D"))  # the report popup closes when the mouse leaves it
    yield 1.5
    began = time.monotonic()
    yield from d.press("blendercnn.create_environment(")
    d.check("Create Environment started", env.creating, env.error)
    # Sampled from the press on, every tick: on a fast machine with a warm pip cache step 1 (the
    # venv) is over in about two seconds.
    steps_seen = set()
    yield from d.wait_for(lambda: steps_seen.add(env.step) or env.step >= 2 or not env.creating, 60,
                          "Create Environment's second step", every=0.05)
    d.shot("creating-environment", step=env.step, steps=env.steps, title=env.step_title)
    yield from d.wait_for(lambda: steps_seen.add(env.step) or not env.creating, 900, "Create Environment")
    d.figures["create_environment_seconds"] = round(time.monotonic() - began, 1)
    d.check("Create Environment made a TensorFlow Python", bool(env.python) and not env.error,
            env.error or env.summary)
    d.check("... showing its steps", {1, 2} <= steps_seen, sorted(steps_seen))
    d.shot("environment-ready", python=env.python, seconds=d.figures["create_environment_seconds"])


def drag_ball(d: Driver, ball, centre: tuple[int, int], result: dict, before_release=None):
    """Grab the selected ball with G and circle the mouse 40 px around ``centre`` (screen px) for
    ≈ 3.5 s, then Esc (the ball goes back). Fills ``result``: began (perf_counter s), seconds, steps
    (the depsgraph updates Blender made meanwhile: the drag steps a user sees), moved, back."""
    import math

    start = tuple(ball.location)
    steps = []

    def count_step(*_args):
        steps.append(time.perf_counter())

    d.move(*centre)
    yield 0.2
    presses = yield from start_grab(d)
    bpy.app.handlers.depsgraph_update_post.append(count_step)
    began = time.perf_counter()
    moved = False
    for step in range(200):  # round and round, for at least 3 s
        angle = step * 0.2
        d.move(centre[0] + int(40 * math.cos(angle)), centre[1] + int(40 * math.sin(angle)))
        yield 0.005
        moved = moved or tuple(ball.location) != start
        if time.perf_counter() - began > 3.5:
            break
    dragged = time.perf_counter() - began
    bpy.app.handlers.depsgraph_update_post.remove(count_step)
    result.update(began=began, seconds=dragged, steps=len([t for t in steps if began <= t <= began + dragged]),
                  moved=moved, g_presses=presses)
    if before_release:
        before_release()
    d.key("Escape")  # cancel the grab: the ball goes back
    yield 0.5
    result["back"] = tuple(ball.location) == start


def start_grab(d: Driver, tries: int = 3):
    """Press G until Blender runs its Move (a key that arrives while Blender is busy can be lost, and
    a user presses again): the number of presses; the drag goes on either way and its check says."""
    for press in range(1, tries + 1):
        d.key("g")
        for _ in range(15):
            yield 0.1
            if any(op.bl_idname == "TRANSFORM_OT_translate" for op in d.window().modal_operators):
                return press
    return tries


def preview_draws():
    """Start noting when an Image Editor showing BlenderCNN Preview draws (perf_counter s): the list
    the times go to, and the handler to remove."""
    drawn = []

    def note():
        space = bpy.context.space_data
        if space is not None and space.image is not None and space.image.name == "BlenderCNN Preview":
            drawn.append(time.perf_counter())

    return drawn, bpy.types.SpaceImageEditor.draw_handler_add(note, (), "WINDOW", "POST_PIXEL")


def drawn_percentile(shown: list, drawn: list[float], share: float) -> float | None:
    """From each change to the first time an Image Editor drew its image (ms), at ``share``; None
    when no editor showing the preview drew."""
    import bisect

    waits = []
    for image in shown:
        after = bisect.bisect_left(drawn, image.shown)
        if after < len(drawn):
            waits.append((drawn[after] - image.requested) * 1000.0)
    return round(percentile(waits, share), 1) if waits else None


def scripted_edits(d: Driver, preview, session, count: int):
    """``count`` changes of the Preview panel's Y, as a script or a driver makes them, each waited
    for until its image is in; returns how many times Blender drew the 3D viewport per edit."""
    viewport_draws = []
    counter = bpy.types.SpaceView3D.draw_handler_add(lambda: viewport_draws.append(1), (), "WINDOW", "POST_PIXEL")
    for step in range(count):
        preview.preview_y = -0.6 + 1.2 * step / count
        yield 0.01
        yield from d.wait_for(lambda: preview_idle(session), 10, "the image", every=0.005)
    yield from wait_for_quiet_cpu()  # the last edit's redraws are done
    bpy.types.SpaceView3D.draw_handler_remove(counter, "WINDOW")
    return round(len(viewport_draws) / count, 1)


def viewport_draw_ms(d: Driver, draws: int = 3) -> float:
    """One redraw of the 3D viewport's main region as it is now, ms (Blender's own redraw timer)."""
    area = d.view3d()
    region = next(r for r in area.regions if r.type == "WINDOW")
    window = bpy.context.window_manager.windows[0]
    with bpy.context.temp_override(window=window, screen=window.screen, area=area, region=region):
        began = time.perf_counter()
        bpy.ops.wm.redraw_timer(type="DRAW", iterations=draws)
    return round((time.perf_counter() - began) / draws * 1000.0, 1)


def wait_for_quiet_cpu(timeout: float = 30.0, share: float = 0.3):
    """Until Blender's process (its render and drawing threads included) uses under ``share`` of a
    core over half a second — a viewport still rendering is done — or ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cpu, wall = time.process_time(), time.monotonic()
        yield 0.5
        if (time.process_time() - cpu) / (time.monotonic() - wall) < share:
            return


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def breakdown(shown: list) -> dict:
    """Median of each part of ShownImage.breakdown_ms over the images, plus the worker's inference."""
    parts = [s.breakdown_ms() for s in shown]
    medians = {key: round(percentile([p[key] for p in parts], 0.5), 1) for key in parts[0]}
    return {**medians, "inference": round(1000 * percentile([s.inference_s for s in shown], 0.5), 1)}


def preview_idle(session) -> bool:
    return session.ready and session.in_flight is None and session.waiting is None


def preview_latency_at_256(d: Driver):
    """At the user's resolution (256², a model prepare_models.py trained): how long a change takes
    to reach the preview's pixels in this window — typed values and property changes."""
    background = sys.modules[ADDON + ".blender.background"]
    preview = status("blendercnn_preview")
    # Timed with the viewport in Solid shading, as a user picks it from the header: on this 2-core,
    # software-GL machine Cycles redrawing a Rendered viewport (Set Up Scene's choice) competes with
    # the worker for the cores (one run: inference p50 41.6 ms, answer p95 83 ms).
    d.view3d().spaces.active.shading.type = "SOLID"
    yield from wait_for_quiet_cpu()
    yield from d.enter_value("blendercnn.preview_model", MODELS + "/run256")
    yield from d.press("blendercnn.load_preview(")
    yield from d.wait_for(lambda: preview.state in {"READY", "ERROR"} and preview.resolution == 256
                          and background.get("preview") is not None and preview_idle(background.get("preview")),
                          180, "the 256² model")
    d.check("the 256² model loaded", preview.state == "READY" and preview.resolution == 256, preview.message)
    session = background.get("preview")
    first = len(session.shown)
    drawn, recorder = preview_draws()
    for value in ("0.1", "-0.2", "0.3", "-0.4", "0.5", "0"):  # typed, as a user types
        yield from d.find("blendercnn_preview.preview_x", x_fraction=0.25)
        yield from d.type_into(*d.found, value)
        yield from d.wait_for(lambda: preview_idle(session), 10, "the typed value's image", every=0.01)
    # Why the image reaches the screen later than the answer reaches Blender: an edit of any
    # add-on property tags the depsgraph, and Blender redraws the 3D viewport for it (once per
    # anti-aliasing sample) before the next timer can pick the answer up. Counted here.
    draws_per_edit = yield from scripted_edits(d, preview, session, 30)
    after_edits = len(session.shown)
    d.figures.update(viewport_draws_per_edit=draws_per_edit, viewport_draw_ms=viewport_draw_ms(d))
    # The same edits with the viewport's anti-aliasing off (Preferences > Viewport > Quality): the
    # the guide's advice (docs/guide.md) for a machine without a GPU. Not part of the figures above.
    system = bpy.context.preferences.system
    kept_aa, system.viewport_aa = system.viewport_aa, "OFF"
    draws_without_aa = yield from scripted_edits(d, preview, session, 15)
    system.viewport_aa = kept_aa
    bpy.types.SpaceImageEditor.draw_handler_remove(recorder, "WINDOW")
    without_aa = [shown.latency_ms for shown in list(session.shown)[after_edits:]]
    d.figures.update(viewport_draws_per_edit_aa_off=draws_without_aa,
                     preview_latency_ms_p50_aa_off=round(percentile(without_aa, 0.5), 1),
                     preview_drawn_ms_p50_aa_off=drawn_percentile(list(session.shown)[after_edits:], drawn, 0.5))
    timed = list(session.shown)[first:after_edits]
    latencies = [shown.latency_ms for shown in timed]
    d.check("at least 30 preview requests timed in the window", len(latencies) >= 30, len(latencies))
    answers = [(s.arrived - s.requested) * 1000.0 for s in timed]
    d.figures.update(preview_resolution=preview.resolution, preview_requests=len(latencies),
                     preview_latency_ms_p50=round(percentile(latencies, 0.5), 1),
                     preview_latency_ms_p95=round(percentile(latencies, 0.95), 1),
                     preview_answer_ms_p50=round(percentile(answers, 0.5), 1),
                     preview_answer_ms_p95=round(percentile(answers, 0.95), 1),
                     preview_drawn_ms_p50=drawn_percentile(timed, drawn, 0.5),
                     preview_drawn_ms_p95=drawn_percentile(timed, drawn, 0.95),
                     preview_breakdown_ms_p50=breakdown(timed))
    print(f"[journey] preview figures {d.figures}", flush=True)
    d.shot("preview-256", latency_ms=preview.latency_ms)


def follow_a_dragged_ball(d: Driver):
    """Follow Scene: how often the preview follows while the ball is dragged with G. Set Up Scene puts
    the ball back in the middle of the room; click it, G, drag."""
    session = sys.modules[ADDON + ".blender.background"].get("preview")
    yield from d.press("blendercnn.setup_scene(")
    yield from d.wait_for(lambda: preview_idle(session), 10, "the image of the ball's new place", every=0.01)
    from bpy_extras.view3d_utils import location_3d_to_region_2d

    area = d.view3d()
    region = next(r for r in area.regions if r.type == "WINDOW")
    d.move(*d.area_centre(area))
    if area.spaces.active.region_3d.view_perspective != "CAMERA":  # Set Up Scene chose it; a user may not
        d.key("KP_0")  # through the scene's camera: from the default view, a wall hides the ball
        yield 0.8
    ball = bpy.context.scene.objects["Ball"]
    spot = location_3d_to_region_2d(region, area.spaces.active.region_3d, ball.location)  # where Set Up put it
    centre = d.to_screen(region, int(spot.x), region.height - int(spot.y))
    for dx, dy in ((0, 0), (3, 3), (-3, 3), (3, -3), (-3, -3), (0, 6), (0, -6)):  # a user clicks again, nearby
        d.click(centre[0] + dx, centre[1] + dy)
        yield 0.4
        if ball.select_get():
            centre = (centre[0] + dx, centre[1] + dy)
            break
    d.check("a click selects the ball", ball.select_get(), [o.name for o in bpy.context.selected_objects])
    # The same drag with Follow Scene off first: how fast Blender itself redraws a drag here.
    props = bpy.context.scene.blendercnn
    props.preview_follow_scene = False
    yield from wait_for_quiet_cpu()
    alone = {}
    yield from drag_ball(d, ball, centre, alone)
    props.preview_follow_scene = True
    yield from wait_for_quiet_cpu()
    yield from d.wait_for(lambda: preview_idle(session), 10, "the preview after Follow Scene", every=0.01)
    drag = {}
    yield from drag_ball(d, ball, centre, drag, before_release=lambda: d.shot("following"))
    began, dragged = drag["began"], drag["seconds"]
    shown_during = [s for s in list(session.shown) if began <= s.shown <= began + dragged]
    rate = len(shown_during) / dragged
    d.figures.update(follow_seconds=round(dragged, 2), follow_images=len(shown_during),
                     follow_updates_per_s=round(rate, 1), follow_drag_steps=drag["steps"],
                     follow_drag_steps_per_s=round(drag["steps"] / dragged, 1),
                     drag_steps_per_s_without_preview=round(alone["steps"] / alone["seconds"], 1),
                     preview_max_pending=session.max_pending)
    print(f"[journey] follow figures {d.figures}", flush=True)
    d.check("the ball moved while dragged with G", drag["moved"] and alone["moved"], (drag, alone))
    # Blender redraws the whole window for each drag step, ≈ 140-230 ms a frame with this machine's
    # software OpenGL: the steps per second are Blender's. What the add-on owes: an image for
    # (nearly) every step Blender draws, no queue, answers in well under 50 ms, and a drag as fluid
    # as without the preview (one run of the probe: 3.0 steps/s with it, 3.1 without).
    d.check("the preview followed (nearly) every drag step Blender drew", len(shown_during) >= 0.8 * drag["steps"] - 1,
            (len(shown_during), drag["steps"]))
    d.check("following does not slow Blender's drag (steps/s at least 0.6x those without the preview)",
            d.figures["follow_drag_steps_per_s"] >= 0.6 * d.figures["drag_steps_per_s_without_preview"],
            (d.figures["follow_drag_steps_per_s"], d.figures["drag_steps_per_s_without_preview"]))
    d.check("pending requests never grew beyond one waiting and one on its way", session.max_pending <= 2,
            session.max_pending)
    d.check("Esc put the ball back", drag["back"] and alone["back"], tuple(ball.location))
    d.check("the worker's answers reached Blender within 50 ms at the 95th percentile",
            d.figures["preview_answer_ms_p95"] <= 50, d.figures["preview_answer_ms_p95"])


def ball_on_screen(d: Driver, ball) -> tuple[int, int]:
    """Where the ball is on screen (px) in the 3D viewport's main region."""
    from bpy_extras.view3d_utils import location_3d_to_region_2d

    area = d.view3d()
    region = next(r for r in area.regions if r.type == "WINDOW")
    spot = location_3d_to_region_2d(region, area.spaces.active.region_3d, ball.location)
    return d.to_screen(region, int(spot.x), region.height - int(spot.y))


def drag_with(d: Driver, ball, centre, engine: str, shading: str) -> dict:
    """The same drag as drag_ball with the scene's render engine ``engine`` and the viewport's
    ``shading``; returns drag_ball's result plus steps_per_s."""
    bpy.context.scene.render.engine = engine
    d.view3d().spaces.active.shading.type = shading
    yield 1.0
    yield from wait_for_quiet_cpu()
    result = {}
    yield from drag_ball(d, ball, centre, result)
    result["steps_per_s"] = round(result["steps"] / result["seconds"], 2)
    return result


def screenshot_pixels() -> np.ndarray:
    """The whole screen now: (H, W, 3) float in [0, 1], top row first."""
    path = os.path.join(OUT, "probe.png")
    subprocess.run(["import", "-window", "root", path], check=True)
    shot = bpy.data.images.load(path, check_existing=False)
    try:
        width, height = shot.size
        rgba = np.empty(width * height * 4, np.float32)
        shot.pixels.foreach_get(rgba)
    finally:
        bpy.data.images.remove(shot)
    os.remove(path)
    return rgba.reshape(height, width, 4)[::-1, :, :3]


def screen_vs_engine_image(d: Driver) -> dict:
    """The camera frame on screen against the engine's newest display image, resized to the frame's
    size on screen: mean |difference| in 8-bit levels (what a user sees is the model's image)."""
    engine = sys.modules[ADDON + ".blender.render_engine"]
    worker = sys.modules[ADDON + ".blender.engine_worker"].current()
    area = d.view3d()
    region = next(r for r in area.regions if r.type == "WINDOW")
    (x, y), width, height = engine.camera_frame(bpy.context.scene, region, area.spaces.active.region_3d)
    left, top = d.to_screen(region, int(round(x)), region.height - int(round(y + height)))
    screen = screenshot_pixels() * 255.0
    size = worker.resolution
    decoded = worker.latest.pixels.reshape(size, size, 4)[::-1, :, :3]  # top row first, sRGB-decoded
    model = np.where(decoded <= 0.0031308, decoded * 12.92, 1.055 * np.power(decoded, 1 / 2.4) - 0.055) * 255.0
    width, height = int(round(width)), int(round(height))
    crop = screen[top + 2:top + height - 2, left + 2:left + width - 2]
    rows = np.minimum((np.arange(height) + 0.5) * size / height, size - 1).astype(int)  # nearest texel
    columns = np.minimum((np.arange(width) + 0.5) * size / width, size - 1).astype(int)
    resized = model[rows][:, columns][2:height - 2, 2:width - 2]
    return {"frame": [left, top, width, height], "mean_diff": round(float(np.abs(crop - resized).mean()), 2),
            "screen_mean": round(float(crop.mean()), 1), "model_mean": round(float(resized.mean()), 1)}


def the_model_as_the_render_engine(d: Driver):
    """Render Properties ▸ Render Engine ▸ BlenderCNN, the viewport in Rendered shading through the
    camera: the model draws the scene. The same drag with G in Solid shading, in Cycles' Rendered
    shading and in BlenderCNN's; then scripted edits of the ball's x, each timed to its image drawn."""
    engine = sys.modules[ADDON + ".blender.render_engine"]
    env = status("blendercnn_env")
    if not env.python and os.environ.get("BLENDERCNN_JOURNEY_PYTHON"):  # the developer's shortcut only
        bpy.context.preferences.addons[ADDON].preferences.python_path = os.environ["BLENDERCNN_JOURNEY_PYTHON"]
    scene = bpy.context.scene
    follow = scene.blendercnn.preview_follow_scene
    scene.blendercnn.preview_follow_scene = False  # the Preview panel's worker stays idle in all three drags
    scene.blendercnn.preview_model = MODELS + "/run256"
    ball = scene.objects["Ball"]
    area = d.view3d()
    if area.spaces.active.region_3d.view_perspective != "CAMERA":
        d.move(*d.area_centre(area))
        d.key("KP_0")
        yield 0.8
    centre = ball_on_screen(d, ball)
    if not ball.select_get():
        d.click(*centre)
        yield 0.4
    d.check("the ball is selected for the engine's drags", ball.select_get())
    solid = yield from drag_with(d, ball, centre, "CYCLES", "SOLID")
    cycles = yield from drag_with(d, ball, centre, "CYCLES", "RENDERED")
    scene.render.engine = "BLENDERCNN"
    d.view3d().spaces.active.shading.type = "RENDERED"
    worker_module = sys.modules[ADDON + ".blender.engine_worker"]
    yield from d.wait_for(lambda: engine.timings(), 180, "BlenderCNN's first image in the viewport")
    d.check("BlenderCNN's worker runs the 256² model", worker_module.current().resolution == 256,
            worker_module.current().ready)
    yield from wait_for_quiet_cpu()
    drawn_before = len(engine.timings())
    ours = yield from drag_with(d, ball, centre, "BLENDERCNN", "RENDERED")
    during = [t for t in engine.timings() if ours["began"] <= t["drawn"] <= ours["began"] + ours["seconds"]]
    ours["images"] = len(during)
    ours["draws"] = len([t for t in engine.draws() if ours["began"] <= t <= ours["began"] + ours["seconds"]])
    yield from wait_for_quiet_cpu()
    d.shot("engine-rendered")
    seen = screen_vs_engine_image(d)
    edits = []
    for step in range(20):  # a script or a driver moves the ball: time to its image on screen
        x = -0.5 + step * 0.05
        edited = time.perf_counter()
        ball.location.x = x
        wanted = ("viewport", tuple(float(v) for v in engine.scene_vector(scene, bpy.context.evaluated_depsgraph_get())))
        yield from d.wait_for(lambda: any(t["key"] == wanted and t["drawn"] >= edited for t in engine.timings()), 10,
                              "the edit's image drawn", every=0.002)
        drawn = next(t["drawn"] for t in engine.timings() if t["key"] == wanted and t["drawn"] >= edited)
        edits.append((drawn - edited) * 1000.0)
    ball.location.x = 0.0
    d.figures.update(engine_drag_steps_per_s=ours["steps_per_s"], solid_drag_steps_per_s=solid["steps_per_s"],
                     cycles_drag_steps_per_s=cycles["steps_per_s"],
                     engine_drag_over_solid=round(ours["steps_per_s"] / max(solid["steps_per_s"], 1e-9), 2),
                     engine_drag_over_cycles=round(ours["steps_per_s"] / max(cycles["steps_per_s"], 1e-9), 2),
                     engine_images_per_step=round(ours["images"] / max(ours["steps"], 1), 2),
                     engine_drag_steps=ours["steps"], engine_drag_images=ours["images"],
                     engine_draws_per_step=round(ours["draws"] / max(ours["steps"], 1), 2),
                     engine_edit_to_draw_ms_p50=round(percentile(edits, 0.5), 1),
                     engine_edit_to_draw_ms_p95=round(percentile(edits, 0.95), 1),
                     engine_screen_vs_model=seen, engine_images_before_drag=drawn_before)
    print(f"[journey] engine figures {d.figures}", flush=True)
    d.check("the ball moved in every drag", solid["moved"] and cycles["moved"] and ours["moved"],
            (solid["moved"], cycles["moved"], ours["moved"]))
    d.check("the viewport shows the model's image in the camera frame (mean difference ≤ 12 levels)",
            seen["mean_diff"] <= 12, seen)
    d.check("dragging with BlenderCNN keeps ≥ 0.8× the pace of Solid shading",
            d.figures["engine_drag_over_solid"] >= 0.8, (ours["steps_per_s"], solid["steps_per_s"]))
    # The target is 3x Cycles. Here both drags are bounded by Blender redrawing the window in
    # software OpenGL (Solid shading itself: 3.3 steps/s; BlenderCNN: 5.3, Cycles: 2.8 in the first
    # runs): what is asserted is that BlenderCNN is clearly the faster of the two; the figure is reported.
    d.check("... and ≥ 1.5× that of Cycles' Rendered shading", d.figures["engine_drag_over_cycles"] >= 1.5,
            (ours["steps_per_s"], cycles["steps_per_s"]))
    d.check("≥ 0.8 images drawn per drag step", d.figures["engine_images_per_step"] >= 0.8,
            (ours["images"], ours["steps"]))
    scene.blendercnn.preview_follow_scene = follow
    yield from press_f12_with_the_engine(d, seen)
    scene.blendercnn.preview_model = ""  # no model: the viewport says so in one line, nothing hangs
    yield 0.5
    messages = [viewport.message for viewport in list(engine._viewports)]
    d.shot("engine-without-a-model", messages=messages)
    d.check("without a model the viewport says so", any("needs a trained model" in m for m in messages), messages)
    scene.blendercnn.preview_model = MODELS + "/run256"
    d.view3d().spaces.active.shading.type = "SOLID"
    scene.render.engine = "CYCLES"


def press_f12_with_the_engine(d: Driver, seen: dict):
    """F12 with BlenderCNN, as a user presses it (Blender renders on its render thread, not the one
    the headless tests use): the Render Result, saved, must be the model's image of the ball's vector
    (the worker's viewport image of the same vector, display colours, within 3 levels on average)."""
    scene = bpy.context.scene
    engine = sys.modules[ADDON + ".blender.render_engine"]
    worker = sys.modules[ADDON + ".blender.engine_worker"].current()
    bpy.context.preferences.view.render_display_type = "NONE"  # keep the window as it is: no render window
    bpy.ops.blendercnn.use_model_resolution()  # its button sits in Render Properties, not in this window
    vector = engine.scene_vector(scene, bpy.context.evaluated_depsgraph_get())
    yield from d.wait_for(lambda: worker.latest is not None and worker.latest.key == ("viewport", tuple(vector)), 10,
                          "the viewport's image of the ball's vector", every=0.01)
    viewport = worker.latest.pixels.reshape(256, 256, 4)[::-1, :, :3]
    viewport = np.where(viewport <= 0.0031308, viewport * 12.92, 1.055 * np.power(viewport, 1 / 2.4) - 0.055)
    ended = []

    def note_end(*_args):
        ended.append(time.perf_counter())

    handlers = (bpy.app.handlers.render_complete, bpy.app.handlers.render_cancel)
    for handler in handlers:
        handler.append(note_end)
    try:
        d.move(*d.area_centre("VIEW_3D"))
        d.key("F12")
        yield from d.wait_for(lambda: ended and not bpy.app.is_job_running("RENDER"), 30, "F12's render", every=0.05)
    finally:
        for handler in handlers:
            handler.remove(note_end)
    result = bpy.data.images["Render Result"]
    path = os.path.join(OUT, "engine-f12.png")
    result.save_render(path, scene=scene)
    saved = bpy.data.images.load(path, check_existing=False)
    try:
        pixels = np.empty(saved.size[0] * saved.size[1] * 4, np.float32)
        saved.pixels.foreach_get(pixels)
        size = tuple(saved.size)
    finally:
        bpy.data.images.remove(saved)
    f12 = pixels.reshape(size[1], size[0], 4)[::-1, :, :3]
    difference = float(np.abs(f12 - viewport).mean() * 255.0) if size == (256, 256) else None
    d.figures["engine_f12_vs_viewport_levels"] = None if difference is None else round(difference, 2)
    d.check("F12 with BlenderCNN renders the model's 256² image of the ball (mean within 3 levels)",
            difference is not None and difference <= 3.0, (size, difference))


def run() -> None:
    """Step the journey from a timer; write results.json and quit when it ends."""
    driver = Driver()
    steps = journey(driver)
    started = time.monotonic()

    def finish(error: str | None) -> None:
        results = {"ok": error is None, "error": error, "seconds": time.monotonic() - started,
                   "shots": driver.shots, "checks": driver.checks, "blender": bpy.app.version_string,
                   **driver.figures}
        with open(os.path.join(OUT, "results.json"), "w") as handle:
            json.dump(results, handle, indent=2)
        print(f"[journey] {'PASSED' if error is None else 'FAILED: ' + error}", flush=True)
        bpy.ops.wm.quit_blender()

    def tick():
        try:
            return next(steps)
        except StopIteration:
            finish(None)
        except Exception as err:  # any failure ends the run with evidence, never hangs it
            traceback.print_exc()
            try:
                driver.shot("failure")
            except Exception:
                pass
            finish(f"{type(err).__name__}: {err}")
        return None

    bpy.app.timers.register(tick, first_interval=2.0)


bpy.context.preferences.view.show_splash = False  # before the window opens, or the splash takes the clicks
run()
