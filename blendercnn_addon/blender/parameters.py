"""The picked parameters in the scene: resolve each data path to the number it sets, refuse what
cannot be set, and set / read it (vector.PROPERTY fields, and colour channels with a data path).

Checked before anything renders, each refusal one line naming the parameter: a path that does
not resolve, a property that is not a number, read-only, driven by a driver or animated by
keyframes (the next frame change would overwrite it), an index beyond the array, a range beyond
the property's own limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import bpy

from ..errors import UserError
from ..vector import VectorField
from .compat import animation_fcurves

_LAST_ATTRIBUTE = re.compile(r"^(.*)\.([A-Za-z_]\w*)$")
NUMBER_TYPES = ("FLOAT", "INT")


@dataclass
class BoundParameter:
    """One field's number in the scene: ``owner``'s property ``attribute`` (element ``index`` of it,
    -1: the whole, not an array)."""

    field: VectorField
    owner: bpy.types.bpy_struct
    attribute: str
    index: int

    def set(self, value: float) -> None:
        if self.index < 0:
            setattr(self.owner, self.attribute, type(getattr(self.owner, self.attribute))(value))
        else:
            getattr(self.owner, self.attribute)[self.index] = value

    def get(self, owner: bpy.types.bpy_struct | None = None) -> float:
        value = getattr(owner or self.owner, self.attribute)
        return float(value if self.index < 0 else value[self.index])

    def get_evaluated(self, depsgraph: bpy.types.Depsgraph) -> float:
        """The value as ``depsgraph`` evaluated it (animation and drivers applied at its frame)."""
        id_data = self.owner.id_data
        evaluated = id_data.evaluated_get(depsgraph) if isinstance(id_data, bpy.types.ID) else id_data
        try:
            owner = evaluated.path_resolve(self.owner.path_from_id()) if self.owner != id_data else evaluated
        except (ValueError, TypeError):
            owner = self.owner
        return self.get(owner)


def _owner(data_path: str, spec: VectorField) -> tuple[bpy.types.bpy_struct, str]:
    match = _LAST_ATTRIBUTE.match(data_path)
    if not match:
        raise UserError(f"parameter {spec.name}: {data_path} names no property (expected e.g. "
                        "objects[\"Ball\"].location)")
    owner_path, attribute = match.groups()
    try:
        owner = bpy.data.path_resolve(owner_path)
    except ValueError:
        raise UserError(f"parameter {spec.name}: bpy.data.{owner_path} does not exist in this file") from None
    if not isinstance(owner, bpy.types.bpy_struct):
        raise UserError(f"parameter {spec.name}: bpy.data.{owner_path} is not a Blender data block")
    return owner, attribute


def _animated_by(owner: bpy.types.bpy_struct, attribute: str, index: int) -> str | None:
    """"a driver" / "keyframes" when something overwrites the number on a frame change, else None."""
    id_data = owner.id_data
    try:
        path = owner.path_from_id(attribute)
    except ValueError:
        return None
    animation = getattr(id_data, "animation_data", None)
    wanted = {max(index, 0)} if index >= 0 else None
    if animation is not None:
        for driver in animation.drivers:
            if driver.data_path == path and (wanted is None or driver.array_index in wanted):
                return "a driver"
    for curve in animation_fcurves(id_data):
        if curve.data_path == path and (wanted is None or curve.array_index in wanted):
            return "keyframes"
    return None


def bind(spec: VectorField, settable: bool = True) -> BoundParameter:
    """The number ``spec`` (a field with a data path) sets; UserError when it cannot be set.
    ``settable`` False: only read (the render engine reads keyframed values, it never sets them),
    so a driver or keyframes are no refusal."""
    owner, attribute = _owner(spec.data_path, spec)
    prop = owner.bl_rna.properties.get(attribute)
    where = f"parameter {spec.name} ({spec.full_path})"
    if prop is None:
        raise UserError(f"{where}: {type(owner).__name__} has no property {attribute!r}")
    if prop.type not in NUMBER_TYPES:
        raise UserError(f"{where} is a {prop.type.lower()}, not a number")
    if prop.is_readonly or owner.is_property_readonly(attribute):
        raise UserError(f"{where} is read-only")
    length = prop.array_length if getattr(prop, "is_array", False) else 0
    if length and spec.index < 0:
        raise UserError(f"{where} is an array of {length}: pick one element, e.g. {spec.data_path}[0]")
    if spec.index >= max(length, 1) or (not length and spec.index >= 0):
        raise UserError(f"{where}: {attribute} has {length or 'no'} elements, no [{spec.index}]")
    animated = _animated_by(owner, attribute, spec.index) if settable else None
    if animated:
        raise UserError(f"{where} is set by {animated}, which would overwrite it on the next frame; "
                        "remove it or pick another property")
    low, high = spec.default_range
    if low < prop.hard_min or high > prop.hard_max:
        raise UserError(f"{where}: the range {low:g}..{high:g} goes beyond what the property takes "
                        f"({prop.hard_min:g}..{prop.hard_max:g})")
    return BoundParameter(spec, owner, attribute, spec.index)


def bind_all(fields, settable: bool = True) -> list[BoundParameter]:
    """:func:`bind` for every field with a data path, in order."""
    return [bind(spec, settable) for spec in fields if spec.data_path]


def animation_curve(bound: BoundParameter):
    """The F-curve that animates ``bound``'s number, or None."""
    id_data = bound.owner.id_data
    try:
        path = bound.owner.path_from_id(bound.attribute)
    except ValueError:
        return None
    index = max(bound.index, 0)
    return next((c for c in animation_fcurves(id_data) if c.data_path == path and c.array_index == index), None)
