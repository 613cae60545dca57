"""The parameters a user picks, as text: ``--param PATH=MIN:MAX`` and ``--params FILE.json``. Blender-free.

A parameter is a Blender property the vector sets, written as its data path from ``bpy.data``
(what Blender's *Copy Full Data Path* gives, without ``bpy.data.``), with the array index last:

- ``objects["Ball"].location[2]=0.3:0.8``: the ball's z, drawn uniformly from 0.3 .. 0.8 m;
- ``lights["Key"].energy=100:1000``: a light's power in W;
- ``materials["Glow"].node_tree.nodes["Emission"].inputs["Color"].default_value=colour``: a colour,
  its r, g, b drawn by the dataset's colour scheme (three fields).

The parameters given replace the default list (vector.FIELDS); the word ``default`` (``--param
default``, or ``{"default": true}`` in a file) puts the ball room's five where it stands, so
``--param default --param 'objects["Ball"].location[2]=0.3:0.8'`` is the five and the ball's height. Each becomes a vector.VectorField of
kind PROPERTY (or COLOUR_CHANNEL for a colour), named from its path ("ball_location_z") unless a
name is given. Whether the path resolves in the scene, is a number and is free to be set (not
read-only, driven or animated) is checked in Blender (blender/parameters.py) before anything renders.

The JSON file holds ``{"parameters": [{"path": ..., "min": ..., "max": ...}, ...]}`` (or just the
list); each entry may add "name" and "label", and a colour is ``{"path": ..., "colour": true}``.
On the command line a name goes first: ``--param 'z:objects["Ball"].location[2]=0.3:0.8'``.
"""

from __future__ import annotations

import json
import re

from .errors import UserError
from .vector import COLOUR_CHANNEL, COLOUR_RANGE, FIELDS, PROPERTY, VectorField, VectorLayout, check_field_range

# A data path: identifiers joined by dots, each optionally followed by ["name"], ['name'] or [N].
_KEY = r'\[(?:"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|\d+)\]'
_PATH = re.compile(rf"[A-Za-z_]\w*(?:{_KEY})*(?:\.[A-Za-z_]\w*(?:{_KEY})*)*")
_TRAILING_INDEX = re.compile(r"^(.*)\[(\d+)\]$")
_SINGLE_QUOTED = re.compile(r"\['((?:[^'\\]|\\.)*)'\]")  # Python's repr writes ['Ball']
_NAME_PREFIX = re.compile(r"^([A-Za-z_]\w*):(?=[A-Za-z_])")  # "z:objects[...]": a path never starts "word:"
_AXIS_NAMES = {"location": "xyz", "delta_location": "xyz", "rotation_euler": "xyz", "delta_rotation_euler": "xyz",
               "scale": "xyz", "delta_scale": "xyz", "dimensions": "xyz", "color": "rgba", "default_value": "rgba"}
METRES = ("location", "delta_location", "dimensions")
COLOUR_WORDS = ("colour", "color")
DEFAULT_WORD = "default"
_CHANNELS = "rgb"


def split_path(path: str) -> tuple[str, int]:
    """(data path, index) of a number's full path: ``objects["Ball"].location[2]`` → (…location, 2);
    -1 when it does not end in an integer index. UserError when it is not a data path."""
    path = path.strip().removeprefix("bpy.data.")
    if not _PATH.fullmatch(path):
        raise UserError(f"{path!r} is not a Blender data path (e.g. objects[\"Ball\"].location[2])")
    path = _SINGLE_QUOTED.sub(lambda m: '["' + m.group(1).replace('"', '\\"') + '"]', path)  # Blender reads "…" only
    match = _TRAILING_INDEX.match(path)
    return (match.group(1), int(match.group(2))) if match else (path, -1)


def _words(data_path: str) -> list[str]:
    """The names a data path mentions, in order: ``objects["Ball"].location`` → ["Ball", "location"]."""
    return [quoted or ident for quoted, ident in
            re.findall(r'\[["\']((?:[^"\'\\]|\\.)*)["\']\]|\.?([A-Za-z_]\w*)', data_path)]


def default_name(data_path: str, index: int) -> str:
    """A column-friendly name for a parameter: ``objects["Ball"].location``, 2 → "ball_location_z";
    ``lights["Key"].energy`` → "key_energy"; a node input's default_value is named by its input."""
    words = _words(data_path)[1:]  # the collection ("objects") says nothing the name needs
    attribute = words[-1] if words else "value"
    kept = [w for w in words if w not in ("node_tree", "nodes", "inputs", "outputs", "default_value")]
    if index >= 0:
        axes = _AXIS_NAMES.get(attribute, "")
        kept.append(axes[index] if index < len(axes) else str(index))
    name = re.sub(r"[^a-z0-9]+", "_", "_".join(kept).lower()).strip("_")
    return name or "parameter"


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _range(text: str, where: str) -> tuple[float, float]:
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise UserError(f"{where}: the range must be MIN:MAX (e.g. 0.3:0.8) or 'colour', got {text!r}") from None


def property_field(path: str, low: float, high: float, name: str = "", label: str = "") -> VectorField:
    """The PROPERTY field of the number at ``path``, drawn from low .. high; UserError for a bad path or range."""
    data_path, index = split_path(path)
    name = name or default_name(data_path, index)
    attribute = _words(data_path)[-1]
    unit = "m" if attribute in METRES else ""
    spec = VectorField(name, PROPERTY, index, (float(low), float(high)), unit, label or _label(name),
                       f"{data_path}{'' if index < 0 else f'[{index}]'}", data_path)
    check_field_range(spec, float(low), float(high))
    return spec


def colour_fields(path: str, name: str = "", label: str = "") -> tuple[VectorField, ...]:
    """The three COLOUR_CHANNEL fields (r, g, b) of the colour at ``path`` (no index: the whole colour)."""
    data_path, index = split_path(path)
    if index >= 0:
        raise UserError(f"{path}: a colour is the whole property, without an index (drop [{index}])")
    base = name or default_name(data_path, -1)
    return tuple(VectorField(f"{base}_{channel}", COLOUR_CHANNEL, i, COLOUR_RANGE, "",
                             f"{label or _label(base)} {channel.upper()}", f"{data_path}[{i}]", data_path)
                 for i, channel in enumerate(_CHANNELS))


def parse_param(text: str) -> tuple[VectorField, ...]:
    """The field(s) of one ``--param [NAME:]PATH=MIN:MAX`` (or ``[NAME:]PATH=colour``, or ``default``:
    the five). NAME: the column's name (default: made from the path)."""
    if text.strip().lower() == DEFAULT_WORD:
        return FIELDS
    named = _NAME_PREFIX.match(text.strip())
    name, text_rest = (named.group(1), text.strip()[named.end():]) if named else ("", text)
    path, sep, value = text_rest.rpartition("=")
    if not sep or not path.strip():
        raise UserError(f"--param {text!r}: expected PATH=MIN:MAX, e.g. objects[\"Ball\"].location[2]=0.3:0.8")
    if value.strip().lower() in COLOUR_WORDS:
        return colour_fields(path, name)
    return (property_field(path, *_range(value.strip(), f"--param {text!r}"), name),)


def layout_from_params(texts) -> VectorLayout:
    """The layout of the ``--param`` texts, in order; UserError for a bad one or the same property twice."""
    return layout_of([spec for text in texts for spec in parse_param(text)])


def _entry_fields(entry, where: str) -> tuple[VectorField, ...]:
    if not isinstance(entry, dict) or not (isinstance(entry.get("path"), str) or entry.get(DEFAULT_WORD) is True):
        raise UserError(f"{where}: each parameter is an object with a \"path\", got {json.dumps(entry)[:80]}")
    if isinstance(entry, dict) and entry.get(DEFAULT_WORD) is True:
        return FIELDS
    name, label = str(entry.get("name", "")), str(entry.get("label", ""))
    if entry.get("colour") or entry.get("color"):
        return colour_fields(entry["path"], name, label)
    try:
        low, high = float(entry["min"]), float(entry["max"])
    except (KeyError, TypeError, ValueError):
        raise UserError(f"{where}: parameter {entry['path']!r} needs numbers \"min\" and \"max\"") from None
    return (property_field(entry["path"], low, high, name, label),)


def layout_from_json(data, where: str) -> VectorLayout:
    """The layout a parameters file holds (parsed JSON: {"parameters": [...]} or the list)."""
    entries = data.get("parameters") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise UserError(f"{where}: expected {{\"parameters\": [{{\"path\": ..., \"min\": ..., \"max\": ...}}, ...]}}")
    return layout_of([spec for entry in entries for spec in _entry_fields(entry, where)])


def read_params_file(path: str) -> VectorLayout:
    """:func:`layout_from_json` of the file at ``path``; UserError when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as err:
        raise UserError(f"{path} is not a readable parameters file ({err})") from None
    return layout_from_json(data, path)


def layout_of(specs: list[VectorField]) -> VectorLayout:
    """A layout of ``specs``; UserError when two set the same number."""
    seen: dict[str, str] = {}
    for spec in specs:
        if not spec.full_path:  # the default five: the target's, named by VectorLayout's own check
            continue
        if spec.full_path in seen:
            raise UserError(f"{spec.full_path} is given twice ({seen[spec.full_path]}, {spec.name}); keep one")
        seen[spec.full_path] = spec.name
    return VectorLayout(tuple(specs))
