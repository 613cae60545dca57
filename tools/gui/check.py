"""Check a GUI journey's evidence and make its contact sheet (runs on the host, after Blender quit).

Blender's own state was checked during the run (results.json "checks"); here the pixels are:
the sidebar is not blank in any step, the progress bar's filled part grows across the
"generating" screenshots, the Image Editor shows the preview's bright spot where the
preview image has it, and every image an Image Editor shows is framed whole in it and is what
the screenshot holds there (the training curve with lines and labels a person can read).
Writes OUT/contact_sheet.png. Exit code 0 only when all holds.

Usage: python tools/gui/check.py OUT
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

PROGRESS_BLUE_MIN = 140  # Blender's progress fill is a saturated blue
# Framed as View > Frame All fits an image: Blender leaves FRAME_MARGIN image pixels on each side,
# so a w-pixel image fills w / (w + 2 margin) of its editor (0.87 for 64², 0.96 for 256²).
FRAME_MARGIN = 5
FRAMED_SLACK = 0.97  # ... give or take 3 %
EDGE_PX = 3  # ... and lies inside the editor, give or take this many pixels
SHOWN_MEAN_DIFF = 20.0  # mean |screen - image| (0-255 levels, the screen crop resized to the image)
READABLE_GLYPH_PX = 9.0  # the curve's digits and letters at least this high on screen
CURVE_LINE_PIXELS = 40  # screen pixels of the PSNR line's blue (90, 160, 255) at least
UNSETTLED_SHOTS = {"following"}  # taken mid-drag: the image changes between screen and datablock
# Figures measured in the window (results.json) and the targets they must meet.
FIGURE_TARGETS = (
    ("preview_resolution", lambda v: v == 256, "the preview is timed at 256²"),
    ("preview_requests", lambda v: v >= 30, "at least 30 timed requests"),
    # Issue 18's 50 ms, for the part the add-on owns: the last two runs gave 24.4 and 20.8 ms (one
    # TensorFlow thread per operation; 41-57 ms before that change, ≈ 280 ms untraced). What the
    # screen adds after it is Blender redrawing its software-GL window (viewport_draw_ms, below).
    ("preview_answer_ms_p95", lambda v: v <= 50, "the worker's answer in Blender within 50 ms (p95)"),
    ("follow_images", lambda v: v >= 1, "the preview follows a drag"),
    ("preview_max_pending", lambda v: v <= 2, "no queue of requests"),
    ("preview_vs_real_psnr_db", lambda v: v >= 28, "the preview matches its real render at 28 dB or more"),
    ("truncated_texts", lambda v: v == 0, "every text the panels drew fits the default sidebar"),
    ("generate_visible_without_scroll", lambda v: v is True, "Generate Dataset visible without scrolling"),
    ("viewport_shows_ball_colour", lambda v: v is True, "the viewport shows the ball's colour after Randomize"),
    ("training_curve_epochs", lambda v: v >= 2, "the training curve has a point per epoch"),
    ("created_environment", lambda v: v is True, "Train ran in an environment Create Environment made"),
    ("create_environment_seconds", lambda v: v > 0, "Create Environment timed"),
)
# Printed for the record, not asserted: in a software-GL Xvfb window every redraw of the window costs
# 140-270 ms, which these include (the 50 ms and 20 images a second need a GPU-drawn window).
FIGURES_SHOWN = ("preview_latency_ms_p50", "preview_latency_ms_p95", "preview_drawn_ms_p50", "preview_drawn_ms_p95",
                 "preview_drawn_ms_p50_aa_off", "preview_answer_ms_p50",
                 "preview_breakdown_ms_p50", "viewport_draws_per_edit", "viewport_draw_ms",
                 "viewport_draws_per_edit_aa_off", "preview_latency_ms_p50_aa_off",
                 "follow_updates_per_s", "follow_drag_steps_per_s", "drag_steps_per_s_without_preview",
                 "estimate_position_error_m", "measured_texts")


def load(out: str, shot: dict) -> np.ndarray:
    return np.asarray(Image.open(os.path.join(out, shot["path"])).convert("RGB")).astype(np.int32)


def crop(pixels: np.ndarray, rect) -> np.ndarray:
    x, y, w, h = (int(v) for v in rect)
    return pixels[max(0, y):y + h, max(0, x):x + w]


def blue_fill(sidebar: np.ndarray) -> int:
    r, g, b = sidebar[..., 0], sidebar[..., 1], sidebar[..., 2]
    return int(np.count_nonzero((b >= PROGRESS_BLUE_MIN) & (b > r + 60) & (b > g + 30)))


def bar_row(shot: dict, half_height: int = 20) -> list[int]:
    """The rows around the progress bar inside the sidebar: drive.py records where it pressed Generate,
    which the bar replaces; the hover point can sit anywhere on the button, hence the margin."""
    if "bar_y" not in shot:  # evidence from an older driver: the whole sidebar
        return shot["sidebar"]
    x, _, width, _ = shot["sidebar"]
    return [x, shot["bar_y"] - half_height, width, 2 * half_height]


def bright_spot(pixels: np.ndarray) -> tuple[float, float]:
    luminance = pixels.sum(axis=2)
    rows, cols = np.nonzero(luminance >= np.quantile(luminance, 0.98))
    return (cols.mean() + 0.5) / pixels.shape[1], (rows.mean() + 0.5) / pixels.shape[0]


def view_failures(out: str, shot: dict, pixels: np.ndarray) -> list[str]:
    """Each Image Editor of the shot: its image framed whole, the screen showing that image, and
    for the curve readable labels and a visible line. Prints each view's figures."""
    failures = []
    for view in shot.get("views", []):
        where = f"{shot['path']}: {view['image']}"
        ex, ey, ew, eh = view["editor_rect"]
        ix, iy, iw, ih = view["image_rect"]
        inside = ix >= ex - EDGE_PX and iy >= ey - EDGE_PX and ix + iw <= ex + ew + EDGE_PX \
            and iy + ih <= ey + eh + EDGE_PX
        fills = max(iw / ew, ih / eh)
        image = np.load(os.path.join(out, view["pixels"])).astype(np.float64)
        screen = Image.fromarray(crop(pixels, view["image_rect"]).astype(np.uint8))
        seen = np.asarray(screen.resize((image.shape[1], image.shape[0]), Image.BOX), np.float64)
        diff = float(np.abs(seen - image).mean())
        line = int(np.count_nonzero(np.all(np.abs(crop(pixels, view["image_rect"]) - (90, 160, 255)) <= 30, axis=2)))
        glyph_px = view.get("glyph_height", 0) * iw / max(view["size"][0], 1)
        print(f"view {where}: fills {fills:.2f} of the editor, inside {inside}, mean diff {diff:.1f}"
              + (f", glyphs {glyph_px:.1f} px, line {line} px" if view.get("glyph_height") else ""))
        framed = FRAMED_SLACK * min(side / (side + 2 * FRAME_MARGIN) for side in view["size"])
        if not inside or fills < framed:
            failures.append(f"{where} is not framed whole in its editor (image {view['image_rect']}, "
                            f"editor {view['editor_rect']})")
        if shot["name"] not in UNSETTLED_SHOTS and diff > SHOWN_MEAN_DIFF:
            failures.append(f"{where}: the screen differs from the image by {diff:.1f} levels on average")
        if view.get("glyph_height") and (glyph_px < READABLE_GLYPH_PX or line < CURVE_LINE_PIXELS):
            failures.append(f"{where}: the curve is not readable on screen (glyphs {glyph_px:.1f} px, "
                            f"line {line} px)")
    return failures


def contact_sheet(out: str, shots: list[dict], path: str, columns: int = 4, width: int = 400) -> None:
    thumbs = []
    for shot in shots:
        image = Image.open(os.path.join(out, shot["path"])).convert("RGB")
        image = image.resize((width, round(image.height * width / image.width)))
        canvas = Image.new("RGB", (width, image.height + 18), (20, 20, 20))
        canvas.paste(image, (0, 18))
        ImageDraw.Draw(canvas).text((4, 3), shot["path"][:-4], fill=(230, 230, 230))
        thumbs.append(canvas)
    rows = (len(thumbs) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * width, rows * thumbs[0].height), (0, 0, 0))
    for n, thumb in enumerate(thumbs):
        sheet.paste(thumb, ((n % columns) * width, (n // columns) * thumb.height))
    sheet.save(path)


def main(out: str) -> int:
    with open(os.path.join(out, "results.json")) as handle:
        results = json.load(handle)
    failures = [] if results["ok"] else [f"journey: {results['error']}"]
    shots = results["shots"]
    for shot in shots:
        if crop(load(out, shot), shot["sidebar"]).std() < 10:
            failures.append(f"{shot['path']}: the sidebar is blank")
    fills = [blue_fill(crop(load(out, s), bar_row(s))) for s in shots if s["name"] == "generating"]
    if len(fills) < 2 or fills != sorted(fills) or fills[-1] <= fills[0]:
        failures.append(f"the progress bar's filled part does not grow across screenshots: {fills}")
    for shot in shots:
        if "image_rect" in shot:
            seen = bright_spot(crop(load(out, shot), shot["image_rect"]))
            expected = shot["spot"]
            if max(abs(seen[0] - expected[0]), abs(seen[1] - expected[1])) > 0.15:
                failures.append(f"{shot['path']}: bright spot at {seen}, the preview has it at {expected}")
    views = [shot for shot in shots if shot.get("views")]
    for shot in views:
        failures += view_failures(out, shot, load(out, shot))
    curve_views = [v for s in views for v in s["views"] if v["image"] == "BlenderCNN Training"]
    if not curve_views:
        failures.append("no screenshot shows the training curve in an Image Editor")
    for key, meets, target in FIGURE_TARGETS:
        value = results.get(key)
        print(f"{key}: {value}")
        if value is None or not meets(value):
            failures.append(f"{key} = {value}: {target}")
    for key in FIGURES_SHOWN:
        print(f"{key}: {results.get(key)} (not asserted)")
    if shots:
        contact_sheet(out, shots, os.path.join(out, "contact_sheet.png"))
    for check in results["checks"]:
        print(f"{'ok  ' if check['ok'] else 'FAIL'} {check['check']}")
    print(f"steps: {len(shots)} screenshots, {results['seconds']:.0f} s in Blender {results['blender']}")
    for failure in failures:
        print(f"FAIL {failure}")
    print("gui journey: " + ("PASSED" if not failures else "FAILED"))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
