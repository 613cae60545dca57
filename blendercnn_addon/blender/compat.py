"""What differs between the Blender versions the extension supports (4.2 LTS to 5.3), in one place.

Other modules ask here instead of testing ``bpy.app.version`` or ``hasattr`` themselves, and
tests/test_blender_compat.py checks every answer on each Blender that ``make test-compat`` runs
(bpy 4.2, 4.5, 5.0, 5.3) and on the main one (5.2). Differences handled:

- Materials and worlds are always node-based from 5.0 on: ``use_nodes`` is deprecated there
  (reading it warns) and must be switched on before 5.0.
- A modal operator's TIMER event does not say which timer fired: ``Event`` has no ``timer`` in
  4.2 to 5.3 (checked by the tests), so any timer tick counts; should one appear, it is used.
- The compositor: a scene-owned tree behind ``Scene.use_nodes`` before 5.0, a node group in
  ``Scene.compositing_node_group`` with a Group Output in 5.0 to 5.2, a stack of effects
  (``Scene.compositor_effects``, each with its node group) from 5.3 on, where
  ``compositing_node_group`` is deprecated. The renders turn compositing off
  (``render.use_compositing``) whatever the kind; only tests build a compositor.
- ``bpy.app.module`` (running as the ``bpy`` Python module) is None in 4.2, a bool later.
- An action's F-curves: ``Action.fcurves`` in 4.2 and 4.3; from 4.4 on (slotted, layered actions)
  they live in the channel bag of the slot the ID uses, and 5.0 removed ``Action.fcurves``.
- What a build offers at all (denoisers, sampling patterns, GPU backends) is not a matter of
  version: renderer.py probes it by assignment and falls back with a note.
"""

from __future__ import annotations

import bpy

NODES_ALWAYS_ON = bpy.app.version >= (5, 0, 0)
EVENTS_NAME_THEIR_TIMER = "timer" in bpy.types.Event.bl_rna.properties
_SCENE_PROPERTIES = bpy.types.Scene.bl_rna.properties
# "effects" (5.3+), "node_group" (5.0-5.2) or "scene_tree" (4.2-4.5): how a scene holds its compositor.
COMPOSITOR_KIND = ("effects" if "compositor_effects" in _SCENE_PROPERTIES
                   else "node_group" if "compositing_node_group" in _SCENE_PROPERTIES else "scene_tree")


def enable_nodes(idblock) -> None:
    """Make a material or world node-based (it always is from Blender 5.0 on)."""
    if not NODES_ALWAYS_ON:
        idblock.use_nodes = True


def uses_nodes(idblock) -> bool:
    """Whether a material or world renders through its node tree."""
    return idblock.node_tree is not None and (NODES_ALWAYS_ON or bool(idblock.use_nodes))


def is_own_timer_event(event, timer) -> bool:
    """Whether a modal operator's ``event`` is a tick of its own ``timer`` (any tick, where events
    do not name their timer)."""
    if event.type != "TIMER":
        return False
    return not EVENTS_NAME_THEIR_TIMER or event.timer is timer


def running_as_module() -> bool:
    """True inside the ``bpy`` Python module (no Blender executable to start workers with)."""
    return bool(getattr(bpy.app, "module", False)) or not bpy.app.binary_path


def new_compositor_tree(scene: bpy.types.Scene, name: str):
    """A fresh, empty compositor tree the scene renders through; returns (tree, image input socket).

    Whatever is linked into the returned socket is what the render shows when
    ``scene.render.use_compositing`` is on. Used by tests that set the trap old files set."""
    if COMPOSITOR_KIND != "scene_tree":
        tree = bpy.data.node_groups.new(name, "CompositorNodeTree")
        tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        if COMPOSITOR_KIND == "effects":
            scene.compositor_effects.new(name=name).node_group = tree
        else:
            scene.compositing_node_group = tree
        return tree, tree.nodes.new("NodeGroupOutput").inputs[0]
    scene.use_nodes = True
    tree = scene.node_tree
    tree.nodes.clear()
    return tree, tree.nodes.new("CompositorNodeComposite").inputs[0]


def animation_fcurves(id_data) -> list:
    """The F-curves animating ``id_data`` through its action (none without one)."""
    animation = getattr(id_data, "animation_data", None)
    action = animation.action if animation else None
    if action is None:
        return []
    if not hasattr(action, "layers"):  # 4.2, 4.3
        return list(action.fcurves)
    from bpy_extras.anim_utils import action_get_channelbag_for_slot

    bag = action_get_channelbag_for_slot(action, animation.action_slot)
    return list(bag.fcurves) if bag else []
