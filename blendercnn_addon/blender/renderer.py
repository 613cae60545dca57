"""Every bpy call a dataset render needs: find the target, apply a vector, configure and render.

Kept in one module so the rest of the generator (bookkeeping, files, progress)
stays Blender-free and readable.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass

import bpy
import numpy as np
from mathutils import Vector

from .. import view_lut
from .compat import running_as_module, uses_nodes
from ..dataset_card import SceneFacts
from ..scene_geometry import FAR, ROUND_TOLERANCE, SceneGeometry
from ..errors import UserError
from ..settings import GenerationSettings, SceneTarget
from ..vector import COLOUR_CHANNEL, DEFAULT_LAYOUT, LOCATION, VectorLayout
from .parameters import BoundParameter, bind_all

# Inputs that carry an emission colour: the Emission node's, then Principled BSDF's.
COLOUR_INPUT_NAMES = ("Color", "Emission Color")
DENOISER_IDS = {"oidn": "OPENIMAGEDENOISE", "optix": "OPTIX"}


@dataclass
class Target:
    """The resolved things a vector changes: ``obj``'s location (vector.LOCATION fields), ``colour_input``
    (vector.COLOUR_CHANNEL fields without a data path), and each picked parameter's number
    (``bound``: the layout's fields with a data path, blender/parameters.py)."""

    obj: bpy.types.Object
    material: bpy.types.Material
    node: bpy.types.Node
    colour_input: bpy.types.NodeSocket
    layout: VectorLayout = DEFAULT_LAYOUT
    bound: dict[str, BoundParameter] | None = None


def resolve_target(scene: bpy.types.Scene, names: SceneTarget, layout: VectorLayout = DEFAULT_LAYOUT,
                   settable: bool = True) -> Target:
    """Look up the object, material and node by name, and bind the layout's picked parameters;
    UserError names whichever is missing or cannot be set (``settable`` False: only read, so an
    animated parameter is fine)."""
    obj = scene.objects.get(names.object_name)
    if obj is None:
        raise UserError(f"object {names.object_name!r} not found in scene {scene.name!r}")
    material = bpy.data.materials.get(names.material_name)
    if material is None:
        raise UserError(f"material {names.material_name!r} not found")
    if material.node_tree is None:
        raise UserError(f"material {names.material_name!r} has no shader nodes")
    node = material.node_tree.nodes.get(names.node_name)
    if node is None:
        raise UserError(f"material {names.material_name!r} has no node named {names.node_name!r}")
    colour_input = next((node.inputs[n] for n in COLOUR_INPUT_NAMES if n in node.inputs), None)
    if colour_input is None:
        raise UserError(
            f"node {names.node_name!r} in material {names.material_name!r} has no emission colour input "
            f"(expected one of: {', '.join(COLOUR_INPUT_NAMES)})"
        )
    bound = {parameter.field.name: parameter for parameter in bind_all(layout.fields, settable)}
    return Target(obj, material, node, colour_input, layout, bound)


def apply_vector(target: Target, vector) -> None:
    """Set what each of the vector's fields stands for (the target's layout, by kind): a picked
    parameter's number, a colour channel of the emission colour (its alpha set to 1), an axis of the
    object's location (the others kept)."""
    colour = list(target.colour_input.default_value)
    for spec, value in zip(target.layout.fields, vector):
        if spec.data_path:
            target.bound[spec.name].set(float(value))
        elif spec.kind == COLOUR_CHANNEL:
            colour[spec.index] = float(value)
        elif spec.kind == LOCATION:
            target.obj.location[spec.index] = float(value)
    if any(f.kind == COLOUR_CHANNEL and not f.data_path for f in target.layout.fields):
        target.colour_input.default_value = (*colour[:3], 1.0)


STRENGTH_INPUT_NAMES = ("Strength", "Emission Strength")


def emission_strength(target: Target) -> float | None:
    """The emission node's strength (W/m² in Blender's units; the ball's own pixels are colour ×
    strength in linear light), or None when it is driven by a link or there is no such input."""
    for name in STRENGTH_INPUT_NAMES:
        socket = target.node.inputs.get(name)
        if socket is not None:
            return None if socket.is_linked else float(socket.default_value)
    return None


def world_radiance(scene: bpy.types.Scene) -> float | None:
    """The brightest channel of the world's light (Background colour × strength, linear), or None
    when it is not one constant Background node (a texture, a link, no nodes). Lit only by it, no
    wall, floor or reflection can be brighter: the ceiling of what the ball does not light."""
    world = scene.world
    if world is None:
        return 0.0
    if not uses_nodes(world):
        return float(max(world.color))
    output = next((n for n in world.node_tree.nodes if n.type == "OUTPUT_WORLD" and n.is_active_output), None)
    links = output.inputs["Surface"].links if output is not None else ()
    if not links:
        return 0.0
    background = links[0].from_node
    if background.type != "BACKGROUND" or any(socket.is_linked for socket in background.inputs):
        return None
    colour = tuple(background.inputs["Color"].default_value)[:3]
    return float(max(colour) * background.inputs["Strength"].default_value)


def blender_version() -> str:
    """This Blender's version string, e.g. '5.2.3 LTS' (recorded in the dataset card)."""
    return bpy.app.version_string


def scene_facts(scene: bpy.types.Scene, target: Target, blend_file: str | None) -> SceneFacts:
    """What the dataset card records about the scene: names and the light levels models use."""
    return SceneFacts(blend_file=blend_file or bpy.data.filepath or None, scene=scene.name,
                      emission_strength=emission_strength(target), world_radiance=world_radiance(scene),
                      camera=scene.camera.name if scene.camera else None)


def background_blender_argv(python_code: str) -> list[str] | None:
    """argv that runs ``python_code`` in this Blender in background mode (no window, no user
    preferences), or None inside the bpy module, which has no Blender executable."""
    if running_as_module():
        return None
    return [bpy.app.binary_path, "--background", "--factory-startup", "--python-exit-code", "1",
            "--python-expr", python_code]


def read_vector(target: Target, depsgraph: bpy.types.Depsgraph | None = None) -> tuple[float, ...]:
    """The target's current vector (its layout, by kind): picked parameters' numbers, its emission
    colour's channels, its location's axes. ``depsgraph``: the picked parameters as it evaluated them."""
    colour, location = tuple(target.colour_input.default_value), tuple(target.obj.location)

    def value(spec) -> float:
        if spec.data_path:
            bound = target.bound[spec.name]
            return bound.get_evaluated(depsgraph) if depsgraph is not None else bound.get()
        return float(colour[spec.index] if spec.kind == COLOUR_CHANNEL else location[spec.index])
    return tuple(value(spec) for spec in target.layout.fields)


def read_evaluated_vector(target: Target, depsgraph: bpy.types.Depsgraph) -> tuple[float, ...]:
    """The target's vector as ``depsgraph`` evaluated it: at its frame, with animation and drivers
    applied (a render's depsgraph does not write them back to the scene's own data)."""
    obj = target.obj.evaluated_get(depsgraph)
    material = target.material.evaluated_get(depsgraph)
    node = material.node_tree.nodes.get(target.node.name) if material.node_tree else None
    socket = node.inputs.get(target.colour_input.name) if node is not None else None
    evaluated = Target(obj, material, node, socket if socket is not None else target.colour_input,
                       target.layout, target.bound)
    return read_vector(evaluated, depsgraph)


def denoiser_available(scene: bpy.types.Scene, blender_id: str) -> bool:
    """Whether this Blender build offers the Cycles denoiser (e.g. Debian's lacks OpenImageDenoise)."""
    previous = scene.cycles.denoiser
    try:
        scene.cycles.denoiser = blender_id
    except TypeError:
        return False
    scene.cycles.denoiser = previous
    return True


def resolve_denoiser(scene: bpy.types.Scene, requested: str) -> tuple[str, list[str]]:
    """Map "none" / "oidn" / "optix" / "auto" to what this Blender can do; returns (choice, notes)."""
    if requested == "none":
        return "none", []
    if requested == "auto":
        return ("oidn", []) if denoiser_available(scene, DENOISER_IDS["oidn"]) else ("none", [
            "no denoiser in this Blender build: rendering without denoising"])
    if denoiser_available(scene, DENOISER_IDS[requested]):
        return requested, []
    return "none", [f"denoiser {requested!r} is not available in this Blender build: rendering without denoising"]


def find_gpus(requested: str) -> tuple[str, list]:
    """(backend, GPU device entries) that a RENDER_DEVICES choice would render on; changes nothing.

    "PREFERENCES": the backend and the devices ticked in Edit > Preferences > System;
    a backend name: all of that backend's devices. An empty list means no such GPU here.
    """
    prefs = bpy.context.preferences.addons["cycles"].preferences
    if requested == "PREFERENCES":
        backend = prefs.compute_device_type
        if backend in ("NONE", "CPU"):
            return backend, []
        return backend, [d for d in prefs.get_devices_for_type(backend) if d.use and d.type == backend]
    try:
        return requested, [d for d in prefs.get_devices_for_type(requested) if d.type == requested]
    except (TypeError, ValueError, KeyError):  # a backend this Blender or platform does not know
        return requested, []


def resolve_device(requested: str) -> tuple[str, str, list[str]]:
    """Set Cycles up for a RENDER_DEVICES choice; returns (scene.cycles.device, description, notes).

    Whatever is asked for, no GPU found means the CPU, with a note saying so.
    """
    if requested == "CPU":
        return "CPU", "CPU", []
    backend, gpus = find_gpus(requested)
    if not gpus:
        wanted = "GPU chosen in Preferences" if requested == "PREFERENCES" else f"{requested} GPU"
        return "CPU", "CPU", [f"no {wanted} found: rendering on the CPU"]
    prefs = bpy.context.preferences.addons["cycles"].preferences
    prefs.compute_device_type = backend
    for device in gpus:
        device.use = True
    return "GPU", f"{backend}: {', '.join(d.name for d in gpus)}", []


def configure_render(scene: bpy.types.Scene, settings: GenerationSettings, denoiser: str,
                     threads: int | None = None) -> tuple[str, list[str]]:
    """Set everything a correct dataset render depends on, explicitly, whatever the file had.

    ``threads``: Cycles CPU threads (None: Blender's automatic choice). Returns the device
    description for the card (e.g. "CPU", "OPTIX: NVIDIA H100") and notes (e.g. a GPU fallback).
    The compositor is switched off: files from older Blenders rendered flat grey through it in
    Blender 5.0 (docs/FACTS.md, "Rendering").
    """
    render = scene.render
    render.engine = "CYCLES"
    render.resolution_x = render.resolution_y = settings.resolution
    render.resolution_percentage = 100
    render.pixel_aspect_x = render.pixel_aspect_y = 1.0
    render.use_border = False
    render.film_transparent = False
    render.use_compositing = False
    render.use_sequencer = False
    render.use_file_extension = False
    render.threads_mode = "AUTO" if threads is None else "FIXED"
    if threads is not None:
        render.threads = threads
    render.image_settings.file_format = "PNG"
    render.image_settings.color_mode = "RGB"
    render.image_settings.color_depth = "8"
    cycles = scene.cycles
    cycles.device, device_description, notes = resolve_device(settings.device)
    cycles.samples = settings.samples
    cycles.use_adaptive_sampling = False
    # The light tree (Blender >= 4.0 default) samples this one-emitter scene 2.6x slower for
    # no benefit; the seed's Blender had none. Measured with benchmarks/render_speed.py.
    cycles.use_light_tree = False
    cycles.use_animated_seed = False
    cycles.use_denoising = denoiser != "none"
    if denoiser != "none":
        cycles.denoiser = DENOISER_IDS[denoiser]
        cycles.denoising_quality = settings.denoise_quality
        cycles.denoising_prefilter = settings.denoise_prefilter
        cycles.denoising_input_passes = settings.denoise_passes
    cycles.sampling_pattern = settings.sampling_pattern  # every pattern is in Blender 4.2 and later
    if scene.camera is None:
        raise UserError(f"scene {scene.name!r} has no camera")
    return device_description, notes


@dataclass
class RenderSetup:
    """A scene made ready to render dataset images: what :func:`prepare_render` resolved.

    target: what each vector changes; denoiser: the one this Blender build offers ("none", "oidn",
    "optix"); device: e.g. "CPU", "OPTIX: NVIDIA H100"; notes: fallbacks worth telling the user."""

    target: Target
    denoiser: str
    device: str
    notes: list[str]


def prepare_render(scene: bpy.types.Scene, settings: GenerationSettings, threads: int | None = None) -> RenderSetup:
    """The one render set-up (dataset jobs, their worker processes, Render Real): resolve the target
    and the denoiser, then set every render setting a correct dataset image depends on."""
    target = resolve_target(scene, settings.target, settings.vectors.layout)
    denoiser, notes = resolve_denoiser(scene, settings.denoiser)
    device, more = configure_render(scene, settings, denoiser, threads=threads)
    return RenderSetup(target, denoiser, device, notes + more)


def render_vector(scene: bpy.types.Scene, setup: RenderSetup, vector, path: str, noise_seed: int,
                  quiet: bool = True) -> None:
    """Render the image of ``vector`` (vector.py) into the PNG file ``path`` with Cycles seed ``noise_seed``."""
    apply_vector(setup.target, vector)
    render_still(scene, path, noise_seed, quiet=quiet)


def render_once(scene: bpy.types.Scene, settings: GenerationSettings, vector, path: str, noise_seed: int = 0) -> None:
    """Set up, render ``vector`` into ``path``, and give the scene back the vector it had (Render Real)."""
    setup = prepare_render(scene, settings)
    before = read_vector(setup.target)
    try:
        render_vector(scene, setup, vector, path, noise_seed)
    finally:
        apply_vector(setup.target, before)


def colour_management(scene: bpy.types.Scene) -> dict:
    """The colour-management settings that shape the PNGs, for the dataset card."""
    view = scene.view_settings
    return {
        "display_device": scene.display_settings.display_device,
        "view_transform": view.view_transform,
        "look": view.look,
        "exposure": view.exposure,
        "gamma": view.gamma,
        "dither_intensity": scene.render.dither_intensity,
    }


@contextlib.contextmanager
def _stdout_silenced(enabled: bool):
    """Silence Cycles' per-frame chatter on file descriptor 1 (it bypasses sys.stdout)."""
    if not enabled:
        yield
        return
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def render_still(scene: bpy.types.Scene, path: str, noise_seed: int, quiet: bool = False) -> None:
    """Render the scene's camera view with Cycles seed ``noise_seed`` into the PNG file ``path``."""
    scene.cycles.seed = noise_seed
    scene.render.filepath = path
    with _stdout_silenced(quiet):
        result = bpy.ops.render.render(write_still=True, scene=scene.name)
    if "FINISHED" not in result or not os.path.exists(path):
        raise UserError(f"Blender did not write the render to {path}")


def save_scene_copy(path: str) -> None:
    """Save the open file as it is in memory (unsaved changes included) to ``path``, for workers.

    The current file keeps its own name and unsaved state."""
    with _stdout_silenced(True):
        bpy.ops.wm.save_as_mainfile(filepath=path, copy=True, check_existing=False)


def bake_view_transform(scene: bpy.types.Scene, size: int = view_lut.LUT_SIZE) -> np.ndarray:
    """The scene's colour management (view transform, look, exposure, gamma, display) as a 3-D table.

    Blender itself transforms a float image holding the table's linear grid (view_lut.grid) and
    saves it as a 16-bit PNG with the scene's settings, without dither; returns the display
    values, float32 (size, size, size, 3) indexed [r, g, b], in [0, 1].
    """
    grid_image = view_lut.linear_grid_image(size)  # (size, size*size, 3)
    height, width = grid_image.shape[:2]
    source = bpy.data.images.new("BlenderCNN LUT grid", width=width, height=height, float_buffer=True, alpha=False)
    rgba = np.concatenate([grid_image, np.ones((height, width, 1), np.float32)], axis=-1)
    source.pixels.foreach_set(rgba.ravel())
    settings = scene.render.image_settings
    saved = (settings.file_format, settings.color_mode, settings.color_depth, scene.render.dither_intensity)
    with tempfile.TemporaryDirectory(prefix="blendercnn-lut-") as folder:
        path = os.path.join(folder, "lut.png")
        try:
            settings.file_format, settings.color_mode, settings.color_depth = "PNG", "RGB", "16"
            scene.render.dither_intensity = 0.0
            source.save_render(path, scene=scene)
        finally:
            settings.file_format, settings.color_mode, settings.color_depth = saved[:3]
            scene.render.dither_intensity = saved[3]
            bpy.data.images.remove(source)
        baked = bpy.data.images.load(path)
        try:
            baked.colorspace_settings.name = "Non-Color"  # read the stored display values as they are
            pixels = np.empty(width * height * 4, np.float32)
            baked.pixels.foreach_get(pixels)
        finally:
            bpy.data.images.remove(baked)
    return view_lut.table_from_image(pixels.reshape(height, width, 4)[..., :3], size)


def bake_scene_geometry(scene: bpy.types.Scene, target: Target) -> SceneGeometry:
    """What each pixel of the scene's camera sees with the target object moved away.

    One ray per pixel centre at the scene's render resolution (square: R x R), cast by Blender
    (scene.ray_cast) into the evaluated scene; see scene_geometry for the arrays. The object is
    put back where it was; ball_height is its z, ball_radius half its largest world dimension,
    ball_scale its x scale;
    the pixel filter is Cycles' (scene.cycles.pixel_filter_type, filter_width).
    """
    camera = scene.camera
    if camera is None:
        raise UserError(f"scene {scene.name!r} has no camera")
    resolution = scene.render.resolution_x
    obj = target.obj
    saved = obj.location.copy()
    view_layer = next((layer for layer in scene.view_layers if layer == bpy.context.view_layer), scene.view_layers[0])
    try:
        obj.location = (saved.x, saved.y, saved.z + 1e6)  # far above: no ray meets it
        view_layer.update()
        rays = _camera_rays(scene, camera, resolution)
        position, normal = _first_hits(scene, view_layer.depsgraph, *rays)
    finally:
        obj.location = saved
        view_layer.update()
    dimensions = sorted(obj.dimensions)
    return SceneGeometry(*rays, position, normal, float(saved.z), dimensions[-1] / 2.0,
                         ball_round=dimensions[-1] <= ROUND_TOLERANCE * dimensions[0],
                         pixel_filter=scene.cycles.pixel_filter_type, filter_width=float(scene.cycles.filter_width),
                         ball_scale=float(obj.scale[0]))


def _camera_rays(scene, camera, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """(R, R, 3) origins and unit directions of the rays through the pixel centres, row 0 at the top."""
    top_right, bottom_right, bottom_left, top_left = (
        np.array(camera.matrix_world @ corner) for corner in camera.data.view_frame(scene=scene))
    centre = (np.arange(resolution) + 0.5) / resolution  # (R,) fractions across the frame
    across, down = np.meshgrid(centre, centre, indexing="xy")  # each (R, R)
    top = top_left + across[..., None] * (top_right - top_left)
    bottom = bottom_left + across[..., None] * (bottom_right - bottom_left)
    on_frame = top + down[..., None] * (bottom - top)  # (R, R, 3) the pixel centres on the frame
    if camera.data.type == "ORTHO":
        forward = np.array((camera.matrix_world.to_3x3() @ Vector((0.0, 0.0, -1.0))).normalized())
        return on_frame.astype(np.float32), np.broadcast_to(forward, on_frame.shape).astype(np.float32)
    origin = np.broadcast_to(np.array(camera.matrix_world.translation), on_frame.shape)
    direction = on_frame - origin
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    return origin.astype(np.float32), direction.astype(np.float32)


def _first_hits(scene, depsgraph, origins: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, R, 3) first surface point and its normal (facing the ray) of each ray."""
    position = origins + FAR * directions
    normal = -directions.copy()
    for row, column in np.ndindex(origins.shape[:2]):
        direction = Vector(directions[row, column])
        hit, location, surface_normal, *_ = scene.ray_cast(depsgraph, Vector(origins[row, column]), direction)
        if hit:
            position[row, column] = location
            normal[row, column] = surface_normal if surface_normal.dot(direction) < 0 else -surface_normal
    return position.astype(np.float32), normal.astype(np.float32)
