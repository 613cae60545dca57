"""Image datablocks the add-on owns: ``BlenderCNN Preview``, ``Real``, ``Difference``, ``Evaluation``, ``Training``.

Pixels arrive as (H, W, 3) uint8 arrays, top row first (PNG order); Blender stores
RGBA floats bottom row first, so rows are flipped on the way in and out.
"""

from __future__ import annotations

import os

import bpy
import numpy as np

PREVIEW_IMAGE = "BlenderCNN Preview"
REAL_IMAGE = "BlenderCNN Real"
EVALUATION_IMAGE = "BlenderCNN Evaluation"
DIFFERENCE_IMAGE = "BlenderCNN Difference"  # |model - real| x 4, after Render Real
TRAINING_IMAGE = "BlenderCNN Training"  # the validation PSNR curve, one point per epoch
OWN_IMAGES = (PREVIEW_IMAGE, REAL_IMAGE, DIFFERENCE_IMAGE, EVALUATION_IMAGE, TRAINING_IMAGE)
DIFFERENCE_GAIN = 4  # small errors made visible: 16 levels of 255 show as 64


def write_image(name: str, rgb: np.ndarray) -> bpy.types.Image:
    """Put (H, W, 3) uint8 pixels into the image datablock ``name``, reusing it (resized if needed)."""
    height, width = rgb.shape[:2]
    image = bpy.data.images.get(name)
    if image is not None and image.source != "GENERATED":
        bpy.data.images.remove(image)  # a loaded file of that name; replace it with our own buffer
        image = None
    if image is None:
        image = bpy.data.images.new(name, width, height, alpha=False)
    elif tuple(image.size) != (width, height):
        image.scale(width, height)
    rgba = np.ones((height, width, 4), np.float32)
    rgba[..., :3] = rgb[::-1] / np.float32(255.0)
    image.pixels.foreach_set(rgba.ravel())
    image.update()
    return image


def write_rgba(name: str, rgba: np.ndarray, width: int, height: int) -> bpy.types.Image:
    """Put pixels already in Blender's layout — (width * height * 4,) float32 RGBA in [0, 1], bottom
    row first — into the image datablock ``name`` as they are (the preview's fast path)."""
    image = bpy.data.images.get(name)
    if image is not None and (image.source != "GENERATED" or tuple(image.size) != (width, height)):
        bpy.data.images.remove(image)
        image = None
    if image is None:
        image = bpy.data.images.new(name, width, height, alpha=False)
    image.pixels.foreach_set(rgba)
    image.update()
    return image


def read_image(image: bpy.types.Image) -> np.ndarray:
    """(H, W, 3) uint8, top row first, from any image datablock."""
    width, height = image.size
    rgba = np.empty(width * height * 4, np.float32)
    image.pixels.foreach_get(rgba)
    rgb = rgba.reshape(height, width, 4)[::-1, :, :3]
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def read_png(path: str) -> np.ndarray:
    """(H, W, 3) uint8 from an image file, read with Blender (no datablock is left behind)."""
    loaded = bpy.data.images.load(os.path.abspath(path), check_existing=False)
    try:
        return read_image(loaded)
    finally:
        bpy.data.images.remove(loaded)


def load_png(name: str, path: str) -> bpy.types.Image:
    """Copy the image file at ``path`` into the datablock ``name`` (the file is not kept open)."""
    return write_image(name, read_png(path))


def show_in_image_editors(image: bpy.types.Image) -> int:
    """Show ``image`` in every open Image Editor that shows no image yet, and redraw them all.

    Editors showing another image (the user's, or Real next to Preview) are left alone.
    Returns how many editors show ``image`` now.
    """
    shown = 0
    window_manager = bpy.context.window_manager
    for window in window_manager.windows if window_manager else ():
        for area in window.screen.areas:
            if area.type != "IMAGE_EDITOR":
                continue
            space = area.spaces.active
            if space.image is None or space.image == image:
                space.image = image
                shown += 1
            area.tag_redraw()
    return shown


def show_in_an_image_editor(image: bpy.types.Image) -> bool:
    """Show ``image`` in one Image Editor: the one showing another of the add-on's images (so Model,
    Real, Difference and the curve take turns there), else the first. False when none is open."""
    window_manager = bpy.context.window_manager
    editors = [area for window in (window_manager.windows if window_manager else ())
               for area in window.screen.areas if area.type == "IMAGE_EDITOR"]
    if not editors:
        return False
    if any(a.spaces.active.image == image for a in editors):
        return True
    ours = [a for a in editors if a.spaces.active.image is not None and a.spaces.active.image.name in OWN_IMAGES
            and a.spaces.active.image.name != PREVIEW_IMAGE]
    area = (ours or editors)[0]
    area.spaces.active.image = image
    area.tag_redraw()
    return True


def difference_pixels(model: np.ndarray, real: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: |model - real| x DIFFERENCE_GAIN, clipped; both (H, W, 3) uint8."""
    gap = np.abs(model.astype(np.int16) - real.astype(np.int16)) * DIFFERENCE_GAIN
    return np.clip(gap, 0, 255).astype(np.uint8)
