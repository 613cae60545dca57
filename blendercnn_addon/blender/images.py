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


def write_image(name: str, rgb: np.ndarray, keep: bool = True) -> bpy.types.Image:
    """Put (H, W, 3) uint8 pixels into the image datablock ``name``, reusing it (resized if needed).
    ``keep``: pack the pixels into the .blend as a PNG (lossless for 8-bit pixels), so the image
    survives Blender freeing its buffers — a generated image comes back black then (seen in the
    window: the training curve, written once per epoch, shown black later) — and is saved with the
    file. The preview, rewritten many times a second, passes False."""
    height, width = rgb.shape[:2]
    image = bpy.data.images.get(name)
    if image is not None and image.source != "GENERATED" and image.packed_file is None:
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
    if keep:
        image.pack()
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

    Editors showing another image (the user's, or Real next to Preview) are left alone. An editor
    that starts showing ``image``, or whose image changed size (a 256² model after a 64² one), is
    framed to it (frame_if_new). Returns how many editors show ``image`` now.
    """
    shown = 0
    for window, area in _image_editors():
        space = area.spaces.active
        if space.image is None or space.image == image:
            space.image = image
            frame_if_new(window, area)
            shown += 1
        area.tag_redraw()
    return shown


def show_in_an_image_editor(image: bpy.types.Image) -> bool:
    """Show ``image`` in one Image Editor, framed whole: the one showing another of the add-on's
    images (so Model, Real, Difference and the curve take turns there), else the first. False when
    none is open."""
    editors = _image_editors()
    if not editors:
        return False
    for window, area in editors:
        if area.spaces.active.image == image:
            frame_if_new(window, area)
            return True
    ours = [(w, a) for w, a in editors if a.spaces.active.image is not None
            and a.spaces.active.image.name in OWN_IMAGES and a.spaces.active.image.name != PREVIEW_IMAGE]
    window, area = (ours or editors)[0]
    area.spaces.active.image = image
    frame_if_new(window, area)
    area.tag_redraw()
    return True


_framed: dict[int, tuple[str, tuple[int, int]]] = {}  # area pointer → (image name, size) it was framed to
FRAME_CHECK_SECONDS = 0.5


def frame_changed_editors() -> float:
    """Timer: frame every Image Editor that has started showing one of the add-on's images (or the
    same at another size) since it was last framed — also when the user picked it from the
    editor's own image menu. Returns the seconds until the next look."""
    for window, area in _image_editors():
        image = area.spaces.active.image
        if image is not None and image.name in OWN_IMAGES and frame_if_new(window, area):
            area.tag_redraw()
    return FRAME_CHECK_SECONDS


def register() -> None:
    if not bpy.app.timers.is_registered(frame_changed_editors):
        bpy.app.timers.register(frame_changed_editors, first_interval=FRAME_CHECK_SECONDS, persistent=True)


def unregister() -> None:
    if bpy.app.timers.is_registered(frame_changed_editors):
        bpy.app.timers.unregister(frame_changed_editors)


def frame_if_new(window, area) -> bool:
    """Frame the editor's image whole (View ▸ Frame All, fitted to the editor) when the editor shows
    a different image, or the same one at another size, than when it was last framed; a zoom the
    user chose for an image is kept while it stays. True when it framed now."""
    image = area.spaces.active.image
    if image is None:
        return False
    shown = (image.name, tuple(image.size))
    if _framed.get(area.as_pointer()) == shown:
        return False
    if not frame_whole(window, area):
        return False
    _framed[area.as_pointer()] = shown
    return True


def frame_whole(window, area) -> bool:
    """Fit the Image Editor ``area``'s image to its main region, as Shift+Home (Frame All, Fit) does.
    False when the editor cannot be framed now (no drawable region yet)."""
    region = next((r for r in area.regions if r.type == "WINDOW"), None)
    if region is None or region.width < 2 or region.height < 2:
        return False
    try:
        with bpy.context.temp_override(window=window, area=area, region=region):
            return "FINISHED" in bpy.ops.image.view_all(fit_view=True)
    except RuntimeError:  # the operator's poll failed: the editor is being rebuilt
        return False


def _image_editors() -> list:
    """(window, area) of every open Image Editor."""
    window_manager = bpy.context.window_manager
    return [(window, area) for window in (window_manager.windows if window_manager else ())
            for area in window.screen.areas if area.type == "IMAGE_EDITOR"]


def difference_pixels(model: np.ndarray, real: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: |model - real| x DIFFERENCE_GAIN, clipped; both (H, W, 3) uint8."""
    gap = np.abs(model.astype(np.int16) - real.astype(np.int16)) * DIFFERENCE_GAIN
    return np.clip(gap, 0, 255).astype(np.uint8)
