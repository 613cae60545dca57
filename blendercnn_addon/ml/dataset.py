"""Read a dataset folder (ours, or the seed's sample_<i>.png + metadata.json). No bpy, no TensorFlow.

The folder's metadata.json is the index: only samples listed there are read, so a
dataset whose generation is still running (or was cancelled) reads consistently.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..dataset_format import CARD_NAME, METADATA_NAME, read_metadata, sample_name
from ..errors import UserError


@dataclass
class DatasetIndex:
    """Which samples a folder holds.

    indices: (N,) int64, ascending sample indices.
    vectors: (N, 5) float32 rows (r, g, b, x, y); r, g, b in [0, 1], x, y in metres.
    card: the dataset card (dataset.json), or None for a seed-format folder.
    """

    folder: str
    indices: np.ndarray
    vectors: np.ndarray
    card: dict | None

    def image_path(self, row: int) -> str:
        return os.path.join(self.folder, sample_name(int(self.indices[row])) + ".png")


def read_index(folder: str) -> DatasetIndex:
    """Index of the dataset in ``folder``; UserError if it is missing, empty or malformed."""
    metadata_path = os.path.join(folder, METADATA_NAME)
    if not os.path.isfile(metadata_path):
        raise UserError(f"no dataset in {folder}: {METADATA_NAME} not found")
    try:
        vectors = read_metadata(metadata_path)
    except (OSError, ValueError) as err:
        raise UserError(f"{metadata_path} is not valid metadata ({err})") from None
    if not vectors:
        raise UserError(f"dataset {folder} holds no samples yet")
    bad = [i for i, v in vectors.items() if len(v) != 5]
    if bad:
        raise UserError(f"{metadata_path}: sample_{bad[0]} has {len(vectors[bad[0]])} numbers, expected 5")
    card = None
    card_path = os.path.join(folder, CARD_NAME)
    if os.path.isfile(card_path):
        with open(card_path, encoding="utf-8") as handle:
            card = json.load(handle)
    indices = np.array(sorted(vectors), dtype=np.int64)
    table = np.array([vectors[i] for i in indices], dtype=np.float32)
    return DatasetIndex(os.path.abspath(folder), indices, table, card)


def load_image(path: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB image; RGBA files (the seed's) lose their alpha."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read image {path} ({err})") from None
