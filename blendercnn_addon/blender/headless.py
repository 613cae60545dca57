"""The rendering commands' Blender side (``generate`` from the command line or ``blender -c``): open or
build the scene, and make the job that renders it. cli/generate.py checks the input first, Blender-free."""

from __future__ import annotations

import bpy

from ..errors import UserError
from ..settings import GenerationSettings


def open_scene(settings: GenerationSettings, scene_name: str | None):
    """The scene to render: the --blend file's (or its --scene), else the demonstration scene the
    settings name (the seed's ball room by default) built here."""
    if settings.blend_file:
        try:
            bpy.ops.wm.open_mainfile(filepath=settings.blend_file, load_ui=False)
        except RuntimeError as err:  # a damaged file with a valid header, a newer Blender's file, ...
            reason = str(err).strip().splitlines()[-1] if str(err).strip() else "unreadable"
            raise UserError(f"Blender cannot open {settings.blend_file}: {reason.removeprefix('Error: ')}") from None
    scene = bpy.context.scene
    if scene_name:
        scene = bpy.data.scenes.get(scene_name)
        if scene is None:
            raise UserError(f"scene {scene_name!r} not found; the file has: "
                            f"{', '.join(s.name for s in bpy.data.scenes)}")
    if not settings.blend_file:
        from .scene_setup import build_demo_scene

        build_demo_scene(scene, settings.demo_scene)
    return scene


def generation_job(settings: GenerationSettings, scene_name: str | None, backend: str = "local",
                   ray_address: str | None = None, ray_actors: int | None = None):
    """The scene opened (or built) in this process's Blender and the job that renders it; for Ray
    (``backend`` "ray"), connected to the cluster (an unreachable one or a refused token: one line,
    nothing written)."""
    scene = open_scene(settings, scene_name)
    if backend == "ray":
        from .ray_backend import RayDatasetJob

        job = RayDatasetJob(scene, settings, address=ray_address, actors=ray_actors, quiet=True)
        job.connect()
        return job
    from .generator import make_job

    return make_job(scene, settings, quiet=True)
