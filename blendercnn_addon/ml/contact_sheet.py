"""A contact sheet PNG of a dataset: a grid of samples, each captioned with its vector.

Usage: python -m blendercnn_addon.ml.contact_sheet DATASET_DIR --out sheet.png [--columns 4] [--limit 16]
"""

from __future__ import annotations

import argparse
import sys

from PIL import Image, ImageDraw

from ..errors import UserError
from .dataset import load_image, read_index, save_png

CAPTION_HEIGHT = 14  # pixels below each tile for its numbers ("x, y") and a swatch of its colour


def make_contact_sheet(folder: str, out_path: str, columns: int = 4, limit: int = 16, tile: int = 128) -> int:
    """Write the first ``limit`` samples of ``folder`` as a grid of ``tile``-pixel tiles; returns the count."""
    index = read_index(folder)
    count = min(limit, len(index.indices))
    rows = (count + columns - 1) // columns
    sheet = Image.new("RGB", (columns * tile, rows * (tile + CAPTION_HEIGHT)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for row in range(count):
        left = (row % columns) * tile
        top = (row // columns) * (tile + CAPTION_HEIGHT)
        image = Image.fromarray(load_image(index.image_path(row))).resize((tile, tile), Image.NEAREST)
        sheet.paste(image, (left, top))
        draw_caption(draw, index.layout, index.vectors[row], left, top + tile)
    save_png(out_path, sheet)
    return count


def draw_caption(draw, layout, vector, left: int, top: int) -> None:
    """Under a tile: a swatch of its first colour (if the layout has one), then its ranged numbers
    ("x +0.12  y -0.30"; a layout of the user's parameters: each by name)."""
    channels = [f for f in layout.fields if not f.ranged]
    colour = [float(v) for f, v in zip(layout.fields, vector) if f in channels and f.data_path == channels[0].data_path]
    if len(colour) == 3:
        swatch = tuple(int(round(255 * min(max(c, 0.0), 1.0))) for c in colour)
        draw.rectangle([left + 2, top + 2, left + 12, top + 12], fill=swatch)
    caption = "  ".join(f"{f.name} {float(v):+.2f}" for f, v in zip(layout.fields, vector) if f.ranged)
    draw.text((left + (16 if len(colour) == 3 else 2), top + 1), caption, fill=(220, 220, 220))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blendercnn_addon.ml.contact_sheet",
                                     description="Write a contact sheet PNG of a BlenderCNN dataset.")
    parser.add_argument("dataset", help="dataset folder (holds metadata.json and sample_<i>.png)")
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--columns", type=int, default=4)
    parser.add_argument("--limit", type=int, default=16, help="at most this many samples")
    parser.add_argument("--tile", type=int, default=128, help="tile size in pixels")
    args = parser.parse_args(argv)
    try:
        count = make_contact_sheet(args.dataset, args.out, args.columns, args.limit, args.tile)
    except UserError as err:
        sys.stderr.write(f"contact_sheet: error: {err}\n")
        return 2
    print(f"{args.out}: {count} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
