"""Build the seed's scene procedurally: a glowing ball floating in a dark corner room.

Geometry and looks follow the seed's .blend (docs/FACTS.md, "The seed scene"): a 4 x 4 m floor, two
3 m walls meeting in a corner, a radius-0.25 m ball at height 0.5 m whose x, y the
dataset varies, a camera looking into the corner, Cycles at 256 x 256, Filmic.

Idempotent: every object, mesh, material and the world we create carries a
``blendercnn_role`` custom property, and a second run finds and resets those
instead of adding copies. Nothing of the user's is deleted: other collections
are excluded from the view layer and loose objects hidden from the render, both
reversible in the Outliner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import bmesh
import bpy

from .compat import enable_nodes

ROLE_KEY = "blendercnn_role"
COLLECTION_NAME = "BlenderCNN"
BALL_RADIUS = 0.25  # metres
BALL_HEIGHT = 0.5  # metres, the ball's z; datasets move only x and y
EMISSION_STRENGTH = 300.0

# name, location (m), rotation (degrees, XYZ Euler), scale — a 2 m plane scaled up.
ROOM_PLANES = (
    ("Floor", (-0.5, -0.5, 0.0), (0.0, 0.0, 0.0), (2.0, 2.0, 1.0)),
    ("Wall right", (-0.5, 1.5, 1.5), (90.0, 0.0, 0.0), (2.0, 1.5, 1.0)),
    ("Wall left", (1.5, -0.5, 1.5), (180.0, 90.0, 0.0), (1.5, 2.0, 1.0)),
)
CAMERA_LOCATION = (-3.5, -3.5, 1.5)
CAMERA_ROTATION_DEG = (78.0, 0.0, -45.0)


@dataclass
class SetupResult:
    """What :func:`build_seed_scene` did: the objects it owns and how much of the user's scene it hid."""

    ball: bpy.types.Object
    camera: bpy.types.Object
    hidden_collections: int
    hidden_objects: int
    view_transform: str


def _tagged(collection, role: str):
    """The datablock in ``collection`` (e.g. bpy.data.objects) tagged with ``role``, or None."""
    for item in collection:
        if item.get(ROLE_KEY) == role:
            return item
    return None


def _tag(item, role: str):
    item[ROLE_KEY] = role
    return item


def _plane_mesh(role: str, name: str) -> bpy.types.Mesh:
    """A 2 x 2 m square in the XY plane; one mesh per plane so each keeps its own material."""
    mesh = _tagged(bpy.data.meshes, role)
    if mesh is None:
        mesh = _tag(bpy.data.meshes.new(name), role)
        mesh.from_pydata([(-1, -1, 0), (1, -1, 0), (1, 1, 0), (-1, 1, 0)], [], [(0, 1, 2, 3)])
    return mesh


def _ball_mesh() -> bpy.types.Mesh:
    """A subdivided cube pushed onto a sphere of BALL_RADIUS (as in the seed), smooth shaded."""
    mesh = _tagged(bpy.data.meshes, "ball")
    if mesh is None:
        mesh = _tag(bpy.data.meshes.new("BlenderCNN Ball"), "ball")
        bm = bmesh.new()
        bmesh.ops.create_cube(bm, size=2 * BALL_RADIUS)
        bmesh.ops.subdivide_edges(bm, edges=bm.edges[:], cuts=8, use_grid_fill=True)
        for vert in bm.verts:
            vert.co = vert.co.normalized() * BALL_RADIUS
        bm.to_mesh(mesh)
        bm.free()
        for polygon in mesh.polygons:
            polygon.use_smooth = True
    return mesh


def _reset_nodes(material: bpy.types.Material) -> bpy.types.NodeTree:
    enable_nodes(material)
    tree = material.node_tree
    tree.nodes.clear()
    return tree


def _glow_material() -> bpy.types.Material:
    """Material 'Glow': an Emission node named 'Emission' (strength 300) into the output."""
    material = _tagged(bpy.data.materials, "glow") or _tag(bpy.data.materials.new("Glow"), "glow")
    tree = _reset_nodes(material)
    emission = tree.nodes.new("ShaderNodeEmission")
    emission.name = emission.label = "Emission"
    emission.inputs["Color"].default_value = (1.0, 1.0, 1.0, 1.0)
    emission.inputs["Strength"].default_value = EMISSION_STRENGTH
    output = tree.nodes.new("ShaderNodeOutputMaterial")
    output.location = (300, 0)
    tree.links.new(emission.outputs["Emission"], output.inputs["Surface"])
    return material


def _black_material(role: str, name: str, roughness: float, specular: float) -> bpy.types.Material:
    """Black Principled BSDF; the floor's low roughness makes the glossy coloured reflection."""
    return _principled_material(role, name, (0.0, 0.0, 0.0, 1.0), roughness, specular)


def _principled_material(role: str, name: str, base_colour, roughness: float, specular: float) -> bpy.types.Material:
    """A Principled BSDF of ``base_colour`` (linear RGBA) into the output, tagged ``role`` (reset when it exists)."""
    material = _tagged(bpy.data.materials, role) or _tag(bpy.data.materials.new(name), role)
    tree = _reset_nodes(material)
    bsdf = tree.nodes.new("ShaderNodeBsdfPrincipled")
    bsdf.inputs["Base Color"].default_value = base_colour
    bsdf.inputs["Roughness"].default_value = roughness
    # Blender 4 renamed "Specular" to "Specular IOR Level" with the same 0..1 scale at F0 = 0.08 * value.
    bsdf.inputs["Specular IOR Level"].default_value = specular
    output = tree.nodes.new("ShaderNodeOutputMaterial")
    output.location = (300, 0)
    tree.links.new(bsdf.outputs["BSDF"], output.inputs["Surface"])
    return material


def _world() -> bpy.types.World:
    world = _tagged(bpy.data.worlds, "world") or _tag(bpy.data.worlds.new("BlenderCNN World"), "world")
    tree = _reset_nodes(world)
    background = tree.nodes.new("ShaderNodeBackground")
    background.inputs["Color"].default_value = (0.05, 0.05, 0.05, 1.0)
    background.inputs["Strength"].default_value = 1.0
    output = tree.nodes.new("ShaderNodeOutputWorld")
    tree.links.new(background.outputs["Background"], output.inputs["Surface"])
    return world


def _collection(scene: bpy.types.Scene) -> bpy.types.Collection:
    collection = _tagged(bpy.data.collections, "collection")
    if collection is None:
        collection = _tag(bpy.data.collections.new(COLLECTION_NAME), "collection")
    if collection.name not in scene.collection.children:
        scene.collection.children.link(collection)
    return collection


def _object(role: str, name: str, data, collection: bpy.types.Collection) -> bpy.types.Object:
    obj = _tagged(bpy.data.objects, role)
    if obj is None:
        obj = _tag(bpy.data.objects.new(name, data), role)
    obj.data = data
    if collection not in obj.users_collection:
        collection.objects.link(obj)
    obj.hide_render = False
    obj.hide_viewport = False
    return obj


def _place(obj, location, rotation_deg, scale=(1.0, 1.0, 1.0)) -> None:
    obj.location = location
    obj.rotation_mode = "XYZ"
    obj.rotation_euler = tuple(math.radians(a) for a in rotation_deg)
    obj.scale = scale


def _assign_material(obj, material) -> None:
    obj.data.materials.clear()
    obj.data.materials.append(material)


def _hide_the_rest(scene: bpy.types.Scene, ours: bpy.types.Collection) -> tuple[int, int]:
    """Exclude other top-level collections and hide loose objects from the render; returns the counts."""
    hidden_collections = 0
    for view_layer in scene.view_layers:
        for layer_collection in view_layer.layer_collection.children:
            if layer_collection.collection != ours and not layer_collection.exclude:
                layer_collection.exclude = True
                hidden_collections += 1
    hidden_objects = 0
    for obj in scene.collection.objects:
        if obj.get(ROLE_KEY) is None and not obj.hide_render:
            obj.hide_render = True
            hidden_objects += 1
    return hidden_collections, hidden_objects


def set_view_transform(scene: bpy.types.Scene, preferred=("Filmic", "AgX")) -> str:
    """Use the first view transform this Blender offers; returns the one set."""
    for name in preferred:
        try:
            scene.view_settings.view_transform = name
            return name
        except TypeError:
            continue
    return scene.view_settings.view_transform


def _render_settings(scene: bpy.types.Scene) -> str:
    """The seed's look: Cycles, 32 samples, no denoising, 256 x 256, Filmic, dither 1."""
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 32
    scene.cycles.use_denoising = False
    scene.render.resolution_x = scene.render.resolution_y = 256
    scene.render.resolution_percentage = 100
    scene.render.dither_intensity = 1.0
    scene.render.film_transparent = False
    scene.render.use_compositing = False
    scene.render.image_settings.file_format = "PNG"
    view_transform = set_view_transform(scene)
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    return view_transform


def build_seed_scene(scene: bpy.types.Scene | None = None) -> SetupResult:
    """Build (or reset) the seed's scene in ``scene`` (default: the context's scene)."""
    scene = scene or bpy.context.scene
    collection = _collection(scene)
    floor_material = _black_material("floor_material", "BlenderCNN Floor", roughness=0.2, specular=0.1)
    wall_material = _black_material("wall_material", "BlenderCNN Wall", roughness=1.0, specular=0.5)
    for name, location, rotation, scale in ROOM_PLANES:
        role = name.lower().replace(" ", "_")
        obj = _object(role, name, _plane_mesh(role + "_mesh", f"BlenderCNN {name}"), collection)
        _place(obj, location, rotation, scale)
        _assign_material(obj, floor_material if role == "floor" else wall_material)

    ball = _object("ball", "Ball", _ball_mesh(), collection)
    _place(ball, (0.0, 0.0, BALL_HEIGHT), (0.0, 0.0, 0.0))
    _assign_material(ball, _glow_material())

    camera_data = _tagged(bpy.data.cameras, "camera") or _tag(bpy.data.cameras.new("BlenderCNN Camera"), "camera")
    camera_data.lens = 50.0
    camera_data.sensor_width = 36.0
    camera_data.sensor_fit = "AUTO"
    camera = _object("camera", "BlenderCNN Camera", camera_data, collection)
    _place(camera, CAMERA_LOCATION, CAMERA_ROTATION_DEG)
    scene.camera = camera

    scene.world = _world()
    view_transform = _render_settings(scene)
    hidden_collections, hidden_objects = _hide_the_rest(scene, collection)
    return SetupResult(ball, camera, hidden_collections, hidden_objects, view_transform)


# -- the demonstration scenes (demo_scenes.py lists them with their parameters) -------------------
BLOCK_PARTS = (((0.0, 0.0, 0.25), (1.3, 0.5, 0.5)), ((0.4, 0.0, 0.75), (0.5, 0.5, 0.5)))  # centre, size (m)
BLOCK_PLACE = {"turntable": (0.0, 0.0, 0.0), "orbit": (0.7, -0.8, 0.0)}
BLOCK_GREY = (0.6, 0.6, 0.6, 1.0)  # linear RGBA: lit by the key light, its colour shows
KEY_LIGHT_LOCATION = (-1.2, -2.0, 2.2)
KEY_LIGHT_WATTS = 1000.0
ORBIT_BALL_COLOUR = (1.0, 0.45, 0.1, 1.0)  # a warm, not white-hot glow: the room and the block stay readable
DEMO_ROLES = ("block", "block_mesh", "block_material", "key_light", "key_light_data", "orbit_pivot")


def build_demo_scene(scene: bpy.types.Scene | None, name: str) -> SetupResult:
    """Build (or reset) demonstration scene ``name`` (demo_scenes.DEMO_SCENES) in ``scene``: the seed's
    room, then what the scene adds. What another demonstration added is removed first."""
    scene = scene or bpy.context.scene
    _remove_demo_extras()
    result = build_seed_scene(scene)
    collection = _collection(scene)
    if name == "ball_plus":
        _round_ball_drivers(result.ball)
    elif name == "turntable":
        _block(collection, BLOCK_PLACE[name])
        _key_light(collection)
        result.ball.hide_render = result.ball.hide_viewport = True
    elif name == "orbit":
        _block(collection, BLOCK_PLACE[name])
        _orbit(collection, result.camera, result.ball)
        result.ball.active_material.node_tree.nodes["Emission"].inputs["Color"].default_value = ORBIT_BALL_COLOUR
    return result


def _remove_demo_extras() -> None:
    """Undo what any demonstration scene added: its objects and data, the camera's pivot and aim,
    the ball's size drivers."""
    camera = _tagged(bpy.data.objects, "camera")
    if camera is not None:
        camera.parent = None
        for constraint in list(camera.constraints):
            camera.constraints.remove(constraint)
    ball = _tagged(bpy.data.objects, "ball")
    if ball is not None and ball.animation_data is not None:
        for curve in [c for c in ball.animation_data.drivers if c.data_path == "scale"]:
            ball.animation_data.drivers.remove(curve)
    for collection in (bpy.data.objects, bpy.data.meshes, bpy.data.lights, bpy.data.materials):
        for item in [i for i in collection if i.get(ROLE_KEY) in DEMO_ROLES]:
            collection.remove(item)


def _round_ball_drivers(ball: bpy.types.Object) -> None:
    """The ball's y and z scale follow its x scale (one "size" parameter keeps it round)."""
    ball.scale = (1.0, 1.0, 1.0)
    for axis in (1, 2):
        driver = ball.driver_add("scale", axis).driver
        driver.type = "AVERAGE"
        variable = driver.variables.new()
        variable.name = "size"
        variable.type = "SINGLE_PROP"
        variable.targets[0].id_type = "OBJECT"
        variable.targets[0].id = ball
        variable.targets[0].data_path = "scale[0]"


def _block_mesh() -> bpy.types.Mesh:
    """An L of two boxes (BLOCK_PARTS), so that its turn is visible from every side."""
    mesh = _tag(bpy.data.meshes.new("BlenderCNN Block"), "block_mesh")
    bm = bmesh.new()
    for centre, size in BLOCK_PARTS:
        made = bmesh.ops.create_cube(bm, size=1.0)
        bmesh.ops.scale(bm, vec=size, verts=made["verts"])
        bmesh.ops.translate(bm, vec=centre, verts=made["verts"])
    bm.to_mesh(mesh)
    bm.free()
    return mesh


def _block(collection: bpy.types.Collection, location) -> bpy.types.Object:
    material = _principled_material("block_material", "BlenderCNN Block", BLOCK_GREY, roughness=0.5, specular=0.5)
    block = _object("block", "BlenderCNN Block", _block_mesh(), collection)
    _place(block, location, (0.0, 0.0, 0.0))
    _assign_material(block, material)
    return block


def _key_light(collection: bpy.types.Collection) -> bpy.types.Object:
    light = _tag(bpy.data.lights.new("BlenderCNN Key", "POINT"), "key_light_data")
    light.energy = KEY_LIGHT_WATTS
    light.shadow_soft_size = 0.3
    obj = _object("key_light", "BlenderCNN Key", light, collection)
    _place(obj, KEY_LIGHT_LOCATION, (0.0, 0.0, 0.0))
    return obj


def _orbit(collection: bpy.types.Collection, camera: bpy.types.Object, ball: bpy.types.Object) -> None:
    """An empty at the world's origin that carries the camera round; the camera keeps aiming at the ball."""
    pivot = _object("orbit_pivot", "BlenderCNN Orbit", None, collection)
    _place(pivot, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
    camera.parent = pivot
    aim = camera.constraints.new("TRACK_TO")
    aim.target = ball
    aim.track_axis, aim.up_axis = "TRACK_NEGATIVE_Z", "UP_Y"
