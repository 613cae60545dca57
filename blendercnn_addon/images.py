"""Image datablocks the add-on owns: ``BlenderCNN Preview``, ``BlenderCNN Real``, ``BlenderCNN Evaluation``.

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
OWN_IMAGES = (PREVIEW_IMAGE, REAL_IMAGE, EVALUATION_IMAGE)


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
