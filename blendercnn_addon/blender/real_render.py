"""Render Real and Estimate from Image: the scene rendered at the Preview panel's vector beside the
model's image, and the reverse, the vector the model draws as a picture (the preview worker finds it)."""

from __future__ import annotations

import os
import tempfile

import bpy
import numpy as np

from . import background, renderer
from ..errors import UserError
from .follow_scene import follow_paused
from .images import REAL_IMAGE, read_image, read_png, show_in_image_editors, write_image
from .preview_session import compare_with_real, model_dir, preview_status
from ..run_config import RunConfig, read_run_config
from ..settings import GenerationSettings
from ..randomization import VectorSpec
from ..vector import DEFAULT_LAYOUT


def _shown_vector() -> list[float] | None:
    """The vector whose image BlenderCNN Preview shows now (None without a preview worker)."""
    session = background.get("preview")
    return session.shown[-1].vector if session is not None and session.shown else None


def render_real(scene, vector: list[float], run_config: RunConfig | None) -> np.ndarray:
    """(R, R, 3) uint8: the scene rendered at ``vector`` as the model's dataset was (resolution and
    render quality from the run's dataset identity, where recorded; else the panel's). The scene's
    vector is restored after."""
    props = scene.blendercnn
    identity = run_config.dataset_identity if run_config else None
    quality = {**props.quality_settings(), **(identity.render_quality() if identity else {})}
    resolution = run_config.resolution if run_config else props.resolution
    layout = run_config.layout if run_config else DEFAULT_LAYOUT
    settings = GenerationSettings(out_dir="", resolution=resolution, **quality, target=props.target_names(),
                                  vectors=VectorSpec({}, "vibrant", False, layout))
    with tempfile.TemporaryDirectory(prefix="blendercnn-real-") as folder, follow_paused(scene):
        path = os.path.join(folder, "real.png")
        renderer.render_once(scene, settings, vector, path, noise_seed=0)
        return read_png(path)


def show_real_render(context) -> str:
    """Render Real: the scene at the preview's vector into ``BlenderCNN Real``, compared with the
    model's image; returns the line to report."""
    scene = context.scene
    config = read_run_config(model_dir(context)) if model_dir(context) else None
    vector = preview_status(context).preview_vector()
    pixels = render_real(scene, vector, config)
    image = write_image(REAL_IMAGE, pixels)
    image["blendercnn_vector"] = vector
    show_in_image_editors(image)
    compare_with_real(_shown_vector())
    status = preview_status(context)
    return f"Rendered {REAL_IMAGE}" + (f": PSNR {status.real_psnr:.2f} dB against the model"
                                       if status.real_psnr >= 0 else "")


def estimate_from_image(context) -> str:
    """Estimate from Image: the vector the loaded model draws as the chosen image (default: BlenderCNN
    Real); the ball is moved and its emission colour set to it, the Preview fields show it and the
    fitted image appears in BlenderCNN Preview. Returns the line to report; UserError otherwise."""
    session = background.get("preview")
    if session is None or not session.ready:
        raise UserError("load a model first (Load Model): the estimate runs in the preview's worker")
    props = context.scene.blendercnn
    image = props.estimate_image or bpy.data.images.get(REAL_IMAGE)
    if image is None:
        raise UserError(f"choose an image to estimate from (or press Render Real to make {REAL_IMAGE})")
    if not image.has_data and image.source == "FILE":
        image.reload()
    width, height = image.size
    status = preview_status(context)
    resolution = status.resolution
    if (width, height) != (resolution, resolution):
        raise UserError(f"{image.name} is {width}x{height}, the model draws {resolution}x{resolution}: "
                        "use an image of the model's resolution")
    target = renderer.resolve_target(context.scene, props.target_names(), session.layout)
    answer = session.estimate(read_image(image))
    if answer.get("note"):  # a poor fit: shown in Preview, but the scene keeps its ball
        status.estimate = f"poor fit · {answer['psnr_db']:.1f} dB"
        raise UserError(f"{image.name}: {answer['note']}; the scene was left as it was")
    vector = [float(v) for v in answer["vector"]]
    renderer.apply_vector(target, vector)
    session.scene_vector = vector  # Follow Scene needs no new image: it is shown already
    status.show_preview_vector(vector)
    status.estimate = ", ".join(f"{v:.2f}" for v in vector) + f" · {answer['psnr_db']:.1f} dB"
    return (f"Estimated {session.layout.describe(vector)} from {image.name}: "
            f"the model's image fits it at {answer['psnr_db']:.1f} dB")
