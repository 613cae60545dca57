"""The training curve as pixels: validation PSNR per epoch, for the ``BlenderCNN Training`` image. No bpy.

A small chart a user reads at a glance in an Image Editor: dB grid lines labelled on the left,
one dot per finished epoch joined by a line, the best epoch ringed, and the validation loss as
a thinner line on its own (log) scale; a legend names both, the x axis is labelled EPOCH with
the last epoch's number. Text comes from a built-in 3×5 pixel font, so the chart needs no font
library.
"""

from __future__ import annotations

import math

import numpy as np

WIDTH, HEIGHT = 400, 200  # pixels of the chart
# Sized to be read where the Curve button shows it: framed whole in an Image Editor as narrow as
# the default layout's (≈ 270 px), a glyph of 5 × GLYPH_SCALE pixels is ≈ 10 px high on screen.
GLYPH_SCALE = 3
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 34, 10, 26, 24
BACKGROUND = (40, 40, 40)
GRID = (70, 70, 70)
TEXT = (200, 200, 200)
PSNR_COLOUR = (90, 160, 255)  # Blender's selection blue
LOSS_COLOUR = (230, 140, 60)
BEST_COLOUR = (255, 255, 255)
GRID_STEP_DB = 5.0

_GLYPHS = {  # 3 columns × 5 rows, row by row: digits and the letters the chart's labels use
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001001001",
    "8": "111101111101111", "9": "111101111001111",
    "B": "110101110101110", "C": "111100100100111", "D": "110101101101110", "E": "111100110100111",
    "H": "101101111101101", "L": "100100100100111", "N": "111101101101101", "O": "111101101101111",
    "P": "111101111100100", "R": "110101110101101", "S": "111100111001111",
}


def text_width(text: str) -> int:
    """Pixels ``text`` takes when drawn (a glyph and its gap per character)."""
    return len(text) * 4 * GLYPH_SCALE


def _draw_text(canvas: np.ndarray, text: str, left: int, top: int, colour) -> None:
    """``text`` (digits, the letters in _GLYPHS; anything else is a space) at (left, top),
    GLYPH_SCALE pixels per font pixel."""
    for char in text:
        for index, bit in enumerate(_GLYPHS.get(char, "")):
            if bit == "1":
                y, x = top + (index // 3) * GLYPH_SCALE, left + (index % 3) * GLYPH_SCALE
                canvas[y:y + GLYPH_SCALE, x:x + GLYPH_SCALE] = colour
        left += 4 * GLYPH_SCALE


def _draw_line(canvas: np.ndarray, start: tuple[float, float], end: tuple[float, float], colour,
               thickness: int = 2) -> None:
    """A straight line between two (x, y) pixel positions, as dots every half pixel."""
    steps = int(max(abs(end[0] - start[0]), abs(end[1] - start[1])) * 2) + 1
    for t in np.linspace(0.0, 1.0, steps):
        _draw_dot(canvas, start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]), colour, thickness)


def _draw_dot(canvas: np.ndarray, x: float, y: float, colour, size: int) -> None:
    height, width = canvas.shape[:2]
    x0, y0 = int(round(x - size / 2)), int(round(y - size / 2))
    canvas[max(0, y0):min(height, y0 + size), max(0, x0):min(width, x0 + size)] = colour


def curve_pixels(val_psnr: list[float], val_loss: list[float] | None = None,
                 width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """(height, width, 3) uint8, top row first: the chart of ``val_psnr`` (dB, one per epoch, in
    order; unknown values as None or NaN are skipped) and, dimmer, ``val_loss`` (log scale)."""
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = BACKGROUND
    points = [(epoch, value) for epoch, value in enumerate(val_psnr, start=1)
              if value is not None and math.isfinite(value)]
    plot_w, plot_h = width - MARGIN_LEFT - MARGIN_RIGHT, height - MARGIN_TOP - MARGIN_BOTTOM
    low = math.floor(min((v for _, v in points), default=10.0) / GRID_STEP_DB) * GRID_STEP_DB
    high = max(math.ceil(max((v for _, v in points), default=30.0) / GRID_STEP_DB) * GRID_STEP_DB, low + GRID_STEP_DB)
    epochs = max(len(val_psnr), 2)

    def to_x(epoch: float) -> float:
        return MARGIN_LEFT + (epoch - 1) / (epochs - 1) * plot_w

    def to_y(fraction: float) -> float:  # 0 at the bottom of the plot, 1 at its top
        return MARGIN_TOP + (1.0 - fraction) * plot_h

    level = low
    while level <= high + 1e-9:  # dB grid lines with their figures
        y = int(round(to_y((level - low) / (high - low))))
        canvas[y, MARGIN_LEFT:width - MARGIN_RIGHT] = GRID
        glyph_h = 5 * GLYPH_SCALE
        _draw_text(canvas, str(int(level)), 2, max(0, min(height - glyph_h, y - glyph_h // 2)), TEXT)
        level += GRID_STEP_DB
    for epoch in range(1, epochs + 1):  # a tick per epoch under the plot
        x = int(round(to_x(epoch)))
        canvas[height - MARGIN_BOTTOM:height - MARGIN_BOTTOM + 3, x] = GRID
    label_top = height - MARGIN_BOTTOM + 6
    _draw_text(canvas, "EPOCH", MARGIN_LEFT, label_top, TEXT)
    _draw_text(canvas, str(len(val_psnr)), width - MARGIN_RIGHT - text_width(str(len(val_psnr))), label_top, TEXT)
    _draw_text(canvas, "PSNR DB", MARGIN_LEFT, 4, PSNR_COLOUR)
    _draw_text(canvas, "LOSS", MARGIN_LEFT + text_width("PSNR DB  "), 4, LOSS_COLOUR)
    losses = [(e, v) for e, v in enumerate(val_loss or [], start=1) if v is not None and math.isfinite(v) and v > 0]
    if len(losses) >= 1:
        logs = [math.log10(v) for _, v in losses]
        span = max(max(logs) - min(logs), 1e-6)
        placed = [(to_x(e), to_y(0.05 + 0.9 * (lg - min(logs)) / span)) for (e, _), lg in zip(losses, logs)]
        for start, end in zip(placed, placed[1:]):
            _draw_line(canvas, start, end, LOSS_COLOUR, thickness=1)
    placed = [(to_x(e), to_y((v - low) / (high - low))) for e, v in points]
    for start, end in zip(placed, placed[1:]):
        _draw_line(canvas, start, end, PSNR_COLOUR)
    for x, y in placed:
        _draw_dot(canvas, x, y, PSNR_COLOUR, 5)
    if points:
        best = max(range(len(points)), key=lambda i: points[i][1])
        _draw_dot(canvas, *placed[best], BEST_COLOUR, 3)
    return canvas
