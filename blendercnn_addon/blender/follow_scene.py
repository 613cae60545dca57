"""Follow Scene: while a model is loaded, the ball's moves and colour changes (a drag with G, the N
panel, a keyframe) ask the preview worker for the model's image of the new vector. Blender's
depsgraph and frame-change handlers call :func:`follow_scene`; it is cheap when nothing changed.
While a 3D viewport draws the BlenderCNN render engine (render_engine.py), that viewport is the
live view and Follow Scene waits."""

from __future__ import annotations

import contextlib

import bpy
from bpy.app.handlers import persistent

from . import background, render_engine
from .preview_session import preview_status, scene_vector


def follow_scene(scene) -> None:
    """While a model is loaded and Follow Scene is on: when the ball moved or its emission colour
    changed (a drag with G, the N panel, a keyframe), ask for the model's image of the new vector
    and show that vector in the Preview panel's fields. Cheap when nothing changed."""
    session = background.get("preview")
    if (session is None or session.follow_paused or not getattr(scene, "blendercnn", None)
            or not scene.blendercnn.preview_follow_scene or render_engine.viewport_live()):
        return  # (a viewport drawing BlenderCNN is the live view then: the two would share two cores)
    vector = scene_vector(scene, session.layout)
    if vector is None or vector == session.scene_vector:
        return
    session.scene_vector = vector
    preview_status().show_preview_vector(vector)  # the fields show it; their update does not fire
    session.request(vector)


@contextlib.contextmanager
def follow_paused(scene):
    """While inside, the ball's moves are the add-on's own (a render at another vector): Follow Scene
    ignores them, and the ball's vector after them is what it compares with next."""
    session = background.get("preview")
    if session is None:
        yield
        return
    session.follow_paused = True
    try:
        yield
    finally:
        session.follow_paused = False
        session.scene_vector = scene_vector(scene, session.layout)


@persistent
def _on_depsgraph_update(scene, _depsgraph=None) -> None:
    follow_scene(scene)


def register() -> None:
    for handlers in (bpy.app.handlers.depsgraph_update_post, bpy.app.handlers.frame_change_post):
        handlers.append(_on_depsgraph_update)


def unregister() -> None:
    for handlers in (bpy.app.handlers.depsgraph_update_post, bpy.app.handlers.frame_change_post):
        if _on_depsgraph_update in handlers:
            handlers.remove(_on_depsgraph_update)
