"""The Parameters list: add (from any property's right-click menu, or by data path), remove, reorder, presets."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, FloatProperty, IntProperty, StringProperty

from .. import renderer
from ...demo_scenes import DEMO_SCENES
from ...errors import UserError
from ..properties import DEMO_SCENE_ITEMS, PARAMETER_KIND_ITEMS

ADD_LABEL = "Add to BlenderCNN Parameters"
NUMBER_TYPES = ("FLOAT", "INT")


def _check_in_scene(context) -> str | None:
    """Why the list cannot be set in this scene (one line), or None: every row resolves to a number
    that can be set (blender/parameters.py), or the list itself is not one (parameters.py)."""
    props = context.scene.blendercnn
    try:
        renderer.resolve_target(context.scene, props.target_names(), props.layout())
    except UserError as err:
        return str(err)
    return None


def add_parameter(context, kind: str, data_path: str, low: float, high: float) -> str | None:
    """Append a row (the ball room's five first, when the list was empty: they stay in the vector);
    undone and its error returned when the new list does not resolve in the scene."""
    props = context.scene.blendercnn
    added_five = not len(props.parameters) and kind != "BALL_ROOM"
    if added_five:
        props.parameters.add().kind = "BALL_ROOM"
    item = props.parameters.add()
    item.kind, item.data_path, item.minimum, item.maximum = kind, data_path, low, high
    problem = _check_in_scene(context)
    if problem:
        props.parameters.remove(len(props.parameters) - 1)
        if added_five:
            props.parameters.remove(len(props.parameters) - 1)
        return problem
    props.parameter_index = len(props.parameters) - 1
    return None


def _default_range(value: float, prop) -> tuple[float, float]:
    """A first range around a property's current value: ± half of it (at least ± 0.5), inside its soft limits."""
    spread = max(abs(value) * 0.5, 0.5)
    low, high = max(value - spread, prop.soft_min), min(value + spread, prop.soft_max)
    return (low, high) if low < high else (prop.hard_min, prop.hard_max)


def _button_path(context) -> tuple[str, int] | None:
    """(data path from bpy.data with its index, index) of the right-clicked property, as Blender's own
    Copy Full Data Path writes it (the user's clipboard is put back)."""
    window_manager = context.window_manager
    kept = window_manager.clipboard
    try:
        if bpy.ops.ui.copy_data_path_button(full_path=True) != {"FINISHED"}:
            return None
        path = window_manager.clipboard
    except RuntimeError:
        return None
    finally:
        window_manager.clipboard = kept
    path = path.removeprefix("bpy.data.")
    index = int(path[path.rindex("[") + 1:-1]) if path.endswith("]") and path[path.rindex("[") + 1:-1].isdigit() else -1
    return path, index


class BLENDERCNN_OT_parameter_add_button(bpy.types.Operator):
    """Vary this property in every sample: add it to the Randomize panel's Parameters (a colour as a
    colour, drawn by the scheme)"""

    bl_idname = "blendercnn.parameter_add_button"
    bl_label = ADD_LABEL
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        prop = getattr(context, "button_prop", None)
        return prop is not None and prop.type in NUMBER_TYPES and getattr(context, "button_pointer", None) is not None

    def execute(self, context):
        found = _button_path(context)
        if found is None:
            self.report({"ERROR"}, "this field has no data path BlenderCNN can set (it belongs to no data block)")
            return {"CANCELLED"}
        path, index = found
        prop, owner = context.button_prop, context.button_pointer
        if prop.subtype in ("COLOR", "COLOR_GAMMA") and getattr(prop, "is_array", False):
            if index >= 0:
                path = path[:path.rindex("[")]
            kind, low, high = "COLOUR", 0.0, 1.0
        else:
            value = getattr(owner, prop.identifier)
            value = float(value[index] if index >= 0 else value)
            kind, (low, high) = "PROPERTY", _default_range(value, prop)
        problem = add_parameter(context, kind, path, low, high)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        self.report({"INFO"}, f"BlenderCNN parameter added: {path}")
        return {"FINISHED"}


def full_path(owner, path: str) -> str:
    """The data path from bpy.data of ``path`` on object ``owner`` (None: ``path`` is from bpy.data already)."""
    path = path.strip().removeprefix("bpy.data.")
    if owner is None:
        return path
    name = owner.name.replace("\\", "\\\\").replace('"', '\\"')
    return f'objects["{name}"]' + ("" if path.startswith("[") else ".") + path


class BLENDERCNN_OT_parameter_add(bpy.types.Operator):
    """Add a parameter: an object (the eyedropper) and the path of its property (location[2], data.energy),
    or a data path from bpy.data (objects["Ball"].location[2])"""

    bl_idname = "blendercnn.parameter_add"
    bl_label = "Add Parameter"
    bl_options = {"REGISTER", "UNDO"}

    kind: EnumProperty(name="Kind", items=PARAMETER_KIND_ITEMS, default="PROPERTY")
    data_path: StringProperty(name="Data Path", description="From bpy.data, with the index: "
                              "objects[\"Ball\"].location[2]")
    minimum: FloatProperty(name="Min", default=0.0)
    maximum: FloatProperty(name="Max", default=1.0)

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self, width=420)

    def draw(self, context):
        layout = self.layout
        layout.prop(context.scene.blendercnn, "parameter_owner")
        for name in ("data_path", "kind", "minimum", "maximum"):
            layout.prop(self, name)

    def execute(self, context):
        path = full_path(context.scene.blendercnn.parameter_owner, self.data_path)
        problem = add_parameter(context, self.kind, path, self.minimum, self.maximum)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        return {"FINISHED"}


class BLENDERCNN_OT_parameter_remove(bpy.types.Operator):
    """Remove the selected parameter (an empty list is the ball room's five)"""

    bl_idname = "blendercnn.parameter_remove"
    bl_label = "Remove Parameter"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return len(context.scene.blendercnn.parameters) > 0

    def execute(self, context):
        props = context.scene.blendercnn
        props.parameters.remove(min(props.parameter_index, len(props.parameters) - 1))
        props.parameter_index = max(0, min(props.parameter_index, len(props.parameters) - 1))
        return {"FINISHED"}


class BLENDERCNN_OT_parameter_move(bpy.types.Operator):
    """Move the selected parameter up or down (the order is the vector's)"""

    bl_idname = "blendercnn.parameter_move"
    bl_label = "Move Parameter"
    bl_options = {"REGISTER", "UNDO"}

    step: IntProperty(name="Step", default=-1, min=-1, max=1)

    def execute(self, context):
        props = context.scene.blendercnn
        to = props.parameter_index + self.step
        if 0 <= to < len(props.parameters):
            props.parameters.move(props.parameter_index, to)
            props.parameter_index = to
        return {"FINISHED"}


class BLENDERCNN_OT_parameters_preset(bpy.types.Operator):
    """Fill the Parameters list with a demonstration scene's (Set Up Scene builds the scene itself)"""

    bl_idname = "blendercnn.parameters_preset"
    bl_label = "Parameters Preset"
    bl_options = {"REGISTER", "UNDO"}

    scene_name: EnumProperty(name="Scene", items=DEMO_SCENE_ITEMS)

    def execute(self, context):
        context.scene.blendercnn.fill_parameters(DEMO_SCENES[self.scene_name].parameters)
        problem = _check_in_scene(context)
        if problem:
            self.report({"WARNING"}, f"{problem} (Set Up Scene with this scene builds what the list needs)")
        return {"FINISHED"}


def draw_in_property_menu(self, context):
    """The property context menu's entry (beside Add Driver and Copy Data Path)."""
    if BLENDERCNN_OT_parameter_add_button.poll(context):
        self.layout.separator()
        self.layout.operator(BLENDERCNN_OT_parameter_add_button.bl_idname, icon="ADD")


def register_menu() -> None:
    bpy.types.UI_MT_button_context_menu.append(draw_in_property_menu)


def unregister_menu() -> None:
    bpy.types.UI_MT_button_context_menu.remove(draw_in_property_menu)


CLASSES = (BLENDERCNN_OT_parameter_add_button, BLENDERCNN_OT_parameter_add, BLENDERCNN_OT_parameter_remove,
           BLENDERCNN_OT_parameter_move, BLENDERCNN_OT_parameters_preset)
