"""Panels' draw() against a recording stand-in layout over the real context.

The bpy module never draws panels, so this is how we know a draw() runs at all,
that every property it names exists on the data it names it on, and that every
button calls a registered operator.
"""

import bpy
import pytest

from test_extension import PANELS


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

    def progress(self, factor=0.0, type="BAR", text=""):
        assert 0.0 <= factor <= 1.0
        self.log.append(("progress", text))

    def separator(self, **kwargs):
        self.log.append(("separator",))


def draw(panel_name: str) -> list:
    cls = getattr(bpy.types, panel_name)
    stand_in = type("PanelSelf", (), {})()
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
