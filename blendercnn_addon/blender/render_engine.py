"""BlenderCNN as a render engine: the trained model draws the scene in the viewport's Rendered
shading, in F12 and in Render Animation (Render Properties ▸ Render Engine ▸ BlenderCNN).

Each image is the model's image of the scene's vector — the ball's emission colour and x, y read
from the evaluated scene, as Follow Scene reads them — through the model of the Preview panel's
Model folder (engine_worker.py runs it beside Blender):

- F12 / Render Animation (``render``): the model's scene-linear light goes into the render result at
  the model's resolution; Blender applies the scene's colour management as it does to Cycles'
  result (a radiance model computes linear light before its view transform; a seed model's display
  colours are read as sRGB). During an animation the next frame's vector (its keyframes evaluated
  ahead) is sent before this frame is handed to Blender, so the model works while Blender writes.
- Viewport (``view_update`` / ``view_draw``): a scene change asks for the newest vector's image
  (never waiting: one in flight, the newest waits); a timer collects it and redraws the viewport;
  ``view_draw`` draws it as a texture over the camera's frame. No add-on property is written per
  image. Outside the camera view, or without a model, the viewport says why in one line.
"""

from __future__ import annotations

import os
import threading
import time
import weakref

import bpy
import gpu
from bpy_extras.view3d_utils import location_3d_to_region_2d
from gpu_extras.presets import draw_texture_2d

from . import engine_worker, renderer
from .compat import animation_fcurves
from .engine_worker import LINEAR, VIEWPORT
from ..errors import UserError
from ..run_config import model_path
from ..vector import COLOUR_CHANNEL, DEFAULT_LAYOUT, VectorLayout
from .parameters import animation_curve
from .preferences import tensorflow_python
from .preview_session import run_folder

ENGINE_ID = "BLENDERCNN"
VIEWPORT_POLL_S = 0.005  # while an image is due: collect it as soon as it arrives
TIMINGS_KEPT = 2000  # per viewport: (asked, drawn) stamps the window journey reads
_viewports: "weakref.WeakSet[BlenderCNNRenderEngine]" = weakref.WeakSet()


# -- what the engine needs from the scene ---------------------------------------------------------------
def model_and_python(scene) -> tuple[str, str]:
    """(run folder, TensorFlow Python) for ``scene``; UserError naming what is missing. The run is the
    Preview panel's Model; the Python the add-on's (only looked up again on the main thread)."""
    run = run_folder(scene)
    if not run:
        raise UserError("BlenderCNN needs a trained model: choose its run folder in Render Properties ▸ "
                        "BlenderCNN ▸ Model (or the Preview panel's Model)")
    if not os.path.isfile(model_path(run)):
        raise UserError(f"BlenderCNN's Model folder {run} holds no trained model ({os.path.basename(model_path(run))})")
    if threading.current_thread() is threading.main_thread():
        return run, tensorflow_python(bpy.context)
    python = bpy.data.window_managers[0].blendercnn_env.python  # the render thread has no full context
    if not python:
        raise UserError("No Python with TensorFlow: set one in the add-on preferences or click Create Environment")
    return run, python


def settled_vector(scene, worker: engine_worker.EngineWorker, vector) -> tuple[list[float], str]:
    """(the vector to draw, a note) under the scene's Outside the Trained Range setting: CLAMP moves each
    number into the model's range and notes which were moved; WARN leaves them (the worker refuses one
    outside, with its own line)."""
    if scene.blendercnn.engine_outside_range != "CLAMP":
        return list(vector), ""
    low, high = worker.vector_range
    clamped = [min(max(float(v), lo), hi) for v, lo, hi in zip(vector, low, high)]
    moved = [name for name, v, c in zip(worker.layout.names, vector, clamped) if v != c]
    return clamped, (f"outside the trained range: {', '.join(moved)} clamped" if moved else "")


def scene_vector(scene, depsgraph, layout: VectorLayout = DEFAULT_LAYOUT) -> tuple[float, ...]:
    """The vector (the model's ``layout``) of ``scene`` as ``depsgraph`` evaluated it, keyframes and
    drivers applied (UserError without a ball, or for a parameter that does not resolve)."""
    target = renderer.resolve_target(scene, scene.blendercnn.target_names(), layout, settable=False)
    return renderer.read_evaluated_vector(target, depsgraph)


def vector_at_frame(scene, frame: float, now, layout: VectorLayout = DEFAULT_LAYOUT) -> list[float]:
    """The vector at ``frame`` as the keyframes give it (``now``: the vector at the current frame,
    kept for every number no F-curve drives). A guess to start the next frame early: the frame's
    own vector, read when it renders, is what it draws."""
    target = renderer.resolve_target(scene, scene.blendercnn.target_names(), layout, settable=False)
    socket_path = target.colour_input.path_from_id("default_value")
    curves = {(c.data_path, c.array_index): c for c in animation_fcurves(target.obj)}
    curves.update({(c.data_path, c.array_index): c for c in animation_fcurves(target.material.node_tree)})
    ahead = []
    for spec, value in zip(layout.fields, now):
        if spec.data_path:
            curve = animation_curve(target.bound[spec.name])
        else:
            curve = curves.get((socket_path if spec.kind == COLOUR_CHANNEL else "location", spec.index))
        ahead.append(float(curve.evaluate(frame)) if curve is not None else float(value))
    return ahead


def check_resolution(scene, resolution: int) -> None:
    """UserError unless the scene renders at the model's R × R (no silent resampling)."""
    render = scene.render
    scale = render.resolution_percentage / 100.0
    width, height = int(render.resolution_x * scale), int(render.resolution_y * scale)
    if (width, height) != (resolution, resolution):
        raise UserError(f"BlenderCNN renders at its model's {resolution}×{resolution} but the scene's output is "
                        f"{width}×{height}: click Render Properties ▸ BlenderCNN ▸ Use the Model's Resolution")


# -- the engine ------------------------------------------------------------------------------------------
class BlenderCNNRenderEngine(bpy.types.RenderEngine):
    """The trained model as a render engine (see the module's docstring)."""

    bl_idname = ENGINE_ID
    bl_label = "BlenderCNN"
    bl_use_preview = False  # material and light previews: the model knows one scene only

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.message = ""  # what the viewport says instead of (or under) the image
        self.drawn_key = None  # the request_key of the image in the texture
        self.waiting_for_model = False  # a scene change came while the model loaded: ask once it is ready
        self.texture = None
        self.asked: list[tuple[float, tuple]] = []  # (perf_counter, request_key) of view_update's asks
        self.timings: list[dict] = []  # per image drawn: asked, arrived, drawn (perf_counter s)
        self.draws: list[float] = []  # perf_counter of each view_draw (the window journey counts them)

    # F12 and Render Animation ---------------------------------------------------------------------------
    def render(self, depsgraph):
        scene = depsgraph.scene
        try:
            worker = engine_worker.engine_worker(*model_and_python(scene))
            worker.wait_ready()
            check_resolution(scene, worker.resolution)
            vector, _note = settled_vector(scene, worker, scene_vector(scene, depsgraph, worker.layout))
            image = worker.image_for(vector, LINEAR)
            if self.is_animation and scene.frame_current + scene.frame_step <= scene.frame_end:
                ahead = vector_at_frame(scene, scene.frame_current + scene.frame_step, vector, worker.layout)
                worker.request(settled_vector(scene, worker, ahead)[0], LINEAR)
        except UserError as err:  # one line; Render Animation stops there, nothing written
            hint = "; Render Properties ▸ BlenderCNN ▸ Outside the Range ▸ Clamp draws the nearest it knows"
            self.report({"ERROR"}, f"{err}{hint if 'outside the range' in str(err) else ''}")
            return
        size = worker.resolution
        result = self.begin_result(0, 0, size, size, layer=depsgraph.view_layer.name)
        result.layers[0].passes["Combined"].rect.foreach_set(image.pixels)
        self.end_result(result)

    # the viewport's Rendered shading ---------------------------------------------------------------------
    def view_update(self, context, depsgraph):
        _viewports.add(self)
        scene = depsgraph.scene
        try:
            worker = engine_worker.engine_worker(*model_and_python(scene))
            worker.pump()
            if worker.error:
                raise UserError(worker.error)
            self.waiting_for_model = worker.ready is None
            if self.waiting_for_model:
                self.message = "BlenderCNN: loading the model…"
                _watch()
                return
            vector, self.message = settled_vector(scene, worker, scene_vector(scene, depsgraph, worker.layout))
        except UserError as err:
            self.message = str(err) if str(err).startswith("BlenderCNN") else f"BlenderCNN: {err}"
            self.tag_redraw()
            return
        key = engine_worker.request_key(vector, VIEWPORT)
        if key != self.drawn_key:
            self.asked.append((time.perf_counter(), key))
            del self.asked[:-TIMINGS_KEPT]
            worker.request(vector, VIEWPORT)
            _watch()

    def view_draw(self, context, depsgraph):
        _viewports.add(self)
        self.draws.append(time.perf_counter())
        del self.draws[:-TIMINGS_KEPT]
        worker = engine_worker.current()
        if self.waiting_for_model and worker is not None and worker.ready is not None:
            self.view_update(context, depsgraph)  # the model loaded since the last scene change
        self._update_texture(worker)
        region, view = context.region, context.region_data
        frame = camera_frame(depsgraph.scene, region, view) if view.view_perspective == "CAMERA" else None
        if frame is not None and self.texture is not None:
            gpu.state.blend_set("NONE")
            draw_texture_2d(self.texture, frame[0], frame[1], frame[2])
        text = self.message if view.view_perspective == "CAMERA" else \
            "BlenderCNN draws through the scene's camera: View ▸ Cameras ▸ Active Camera (Numpad 0)"
        if text:
            _draw_text(text)

    def _update_texture(self, worker) -> None:
        """Put the worker's newest viewport image in the texture (once per image)."""
        image = worker.latest if worker is not None else None
        if image is None or image.key == self.drawn_key or image.key[0] != VIEWPORT:
            return
        size = worker.resolution
        buffer = gpu.types.Buffer("FLOAT", size * size * 4, image.pixels)
        self.texture = gpu.types.GPUTexture((size, size), format="RGBA16F", data=buffer)
        self.drawn_key = image.key
        asked = next((t for t, key in reversed(self.asked) if key == image.key), image.arrived)
        self.timings.append({"key": image.key, "asked": asked, "arrived": image.arrived,
                             "drawn": time.perf_counter(), "worker_s": image.worker_s})
        del self.timings[:-TIMINGS_KEPT]


def camera_frame(scene, region, view) -> tuple[tuple[float, float], float, float] | None:
    """((x, y) of the camera frame's lower-left corner, its width, its height) in region pixels."""
    camera = scene.camera
    if camera is None:
        return None
    corners = [camera.matrix_world @ corner for corner in camera.data.view_frame(scene=scene)]
    points = [location_3d_to_region_2d(region, view, corner) for corner in corners]
    if any(point is None for point in points):
        return None
    xs, ys = [p.x for p in points], [p.y for p in points]
    return (min(xs), min(ys)), max(xs) - min(xs), max(ys) - min(ys)


def _draw_text(text: str) -> None:
    import blf

    font = 0
    blf.size(font, 14)
    blf.color(font, 1.0, 0.85, 0.4, 1.0)
    blf.position(font, 16, 40, 0)
    blf.draw(font, text)


# -- the viewport's timer: images arrive, viewports redraw ---------------------------------------------------
def _watch() -> None:
    if not bpy.app.timers.is_registered(_collect):
        bpy.app.timers.register(_collect, first_interval=VIEWPORT_POLL_S)


def _collect() -> float | None:
    """Take the worker's answers; redraw the BlenderCNN viewports when an image arrived. Runs while an
    image is due (or the model loads); stops itself when nothing is."""
    worker = engine_worker.current()
    if worker is None:
        return None
    fresh = worker.pump()
    loading = worker.ready is None and not worker.error
    if fresh or worker.error or (not loading and any(engine.waiting_for_model for engine in list(_viewports))):
        for engine in list(_viewports):
            engine.tag_redraw()
    if loading or worker.in_flight is not None or worker.waiting is not None:
        return VIEWPORT_POLL_S
    return None


def viewport_live() -> bool:
    """Whether a 3D viewport is drawing BlenderCNN's Rendered shading now."""
    window_manager = bpy.context.window_manager
    for window in window_manager.windows if window_manager else ():
        if window.scene.render.engine != ENGINE_ID:
            continue
        for area in window.screen.areas:
            if area.type == "VIEW_3D" and area.spaces.active.shading.type == "RENDERED":
                return True
    return False


def stop() -> None:
    """End the worker and the timer (a file loads, the add-on unregisters)."""
    if bpy.app.timers.is_registered(_collect):
        bpy.app.timers.unregister(_collect)
    engine_worker.stop()


def draws() -> list[float]:
    """Every live viewport's view_draw times (perf_counter s), oldest first."""
    return sorted(t for engine in list(_viewports) for t in engine.draws)


def timings() -> list[dict]:
    """Every live viewport's drawn-image stamps, newest last (the window journey reads them)."""
    return sorted((t for engine in list(_viewports) for t in engine.timings), key=lambda t: t["drawn"])



# -- registration: the engine, and Blender's panels it shares ------------------------------------------------
PANELS_LEFT_OUT = {"VIEWLAYER_PT_filter", "VIEWLAYER_PT_layer_passes"}  # Cycles/EEVEE's own passes
MATERIAL_PANELS = {"EEVEE_MATERIAL_PT_context_material", "EEVEE_MATERIAL_PT_surface"}  # the ball's emission colour


def _shared_panels() -> list:
    """Blender's panels that show for BlenderCNN too: those of every engine (output, format, frame range,
    colour management, the camera, the object) and the material's surface (the emission colour)."""
    return [panel for panel in bpy.types.Panel.__subclasses__()
            if isinstance(getattr(panel, "COMPAT_ENGINES", None), set) and panel.__name__ not in PANELS_LEFT_OUT
            and ("BLENDER_RENDER" in panel.COMPAT_ENGINES or panel.__name__ in MATERIAL_PANELS)]


@bpy.app.handlers.persistent
def _on_load_pre(*_args) -> None:
    stop()


def register() -> None:
    bpy.utils.register_class(BlenderCNNRenderEngine)
    for panel in _shared_panels():
        panel.COMPAT_ENGINES.add(ENGINE_ID)
    bpy.app.handlers.load_pre.append(_on_load_pre)


def unregister() -> None:
    stop()
    if _on_load_pre in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_on_load_pre)
    for panel in _shared_panels():
        panel.COMPAT_ENGINES.discard(ENGINE_ID)
    bpy.utils.unregister_class(BlenderCNNRenderEngine)
