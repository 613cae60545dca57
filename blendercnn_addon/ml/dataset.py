"""Read a dataset folder (ours, or the seed's sample_<i>.png + metadata.json). No bpy, no TensorFlow.

The folder's metadata.json is the index: only samples listed there are read, so a
dataset whose generation is still running (or was cancelled) reads consistently.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..dataset_card import DatasetCard
from ..dataset_format import METADATA_NAME, DatasetFolder, read_metadata, sample_name, write_atomically
from ..errors import UserError
from ..run_config import RunConfig
from ..vector import DEFAULT_LAYOUT, BallExtras, VectorLayout


@dataclass
class DatasetIndex:
    """Which samples a folder holds.

    indices: (N,) int64, ascending sample indices.
    vectors: (N, layout.size) float32 rows (r, g, b, x, y for the default layout): colours in [0, 1],
    positions in metres, picked parameters in their property's units.
    card: the dataset card (dataset_card.DatasetCard), or None for a seed-format folder.
    """

    folder: str
    indices: np.ndarray
    vectors: np.ndarray
    card: DatasetCard | None

    @property
    def layout(self) -> VectorLayout:
        """The vector's fields (the card's; the default five for a seed-format folder)."""
        return self.card.identity.layout if self.card is not None else DEFAULT_LAYOUT

    @property
    def ball_extras(self) -> BallExtras | None:
        """Where the vector goes beyond the ball room's five with the ball's height and size
        (VectorLayout.ball_extras, the ball being the card's object); None: not the ball room's."""
        return self.layout.ball_extras(self.card.identity.object if self.card is not None else None)

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
    return index_of_vectors(folder, vectors)


def index_of_vectors(folder: str, vectors: dict[int, list[float]]) -> DatasetIndex:
    """Index of the dataset in ``folder`` whose metadata.json was read as ``vectors`` ({sample: [r, g, b,
    x, y]}); UserError if it is empty, a vector is malformed or an image it lists is missing."""
    metadata_path = os.path.join(folder, METADATA_NAME)
    if not vectors:
        raise UserError(f"dataset {folder} holds no samples yet")
    card = DatasetFolder(folder).read_card()  # None for the seed's layout; UserError if unreadable
    layout = card.identity.layout if card is not None else DEFAULT_LAYOUT
    bad = [i for i, v in vectors.items() if len(v) != layout.size]
    if bad:
        raise UserError(f"{metadata_path}: sample_{bad[0]} has {len(vectors[bad[0]])} numbers, "
                        f"expected {layout.size} ({', '.join(layout.names)})")
    not_finite = sorted(i for i, v in vectors.items() if not all(math.isfinite(x) for x in v))
    if not_finite:
        raise UserError(f"{metadata_path}: sample_{not_finite[0]} has a number that is not finite "
                        f"({vectors[not_finite[0]]}); {len(not_finite)} sample(s) like it")
    indices = np.array(sorted(vectors), dtype=np.int64)
    table = np.array([vectors[i] for i in indices], dtype=np.float32)
    index = DatasetIndex(os.path.abspath(folder), indices, table, card)
    missing = [row for row in range(len(indices)) if not os.path.isfile(index.image_path(row))]
    if missing:
        raise UserError(f"{metadata_path} lists {len(missing)} sample(s) whose image is missing, "
                        f"e.g. cannot read image {index.image_path(missing[0])}")
    return index


def vectors_fingerprint(index: DatasetIndex, samples) -> str | None:
    """16 hex digits of SHA-256 over the given sample indices and their vectors (float32), or None
    when one of them is not in the dataset: what a run records to recognise its dataset later."""
    position = {int(sample): row for row, sample in enumerate(index.indices)}
    samples = sorted(int(s) for s in samples)
    if any(s not in position for s in samples):
        return None
    rows = np.array([position[s] for s in samples], dtype=np.int64)
    digest = hashlib.sha256(np.array(samples, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(index.vectors[rows], dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


def check_same_dataset(index: DatasetIndex, run_config: RunConfig, run: str) -> None:
    """UserError unless ``index`` is the dataset the run was trained on: the same card identity (when
    both record one) and the same vectors for every sample the run used (runs since the fingerprint)."""
    recorded = run_config.dataset_identity
    current = index.card.identity if index.card else None
    trained_on = run_config.data or "its recorded folder"
    differing = recorded.differences(current) if recorded and current else []
    if differing:
        raise UserError(f"{index.folder} is not the dataset run {run} was trained on (settings differ in: "
                        f"{', '.join(differing)}); use {trained_on}")
    fingerprint = run_config.dataset_fingerprint
    if fingerprint is None:
        return
    found = vectors_fingerprint(index, run_config.train_indices + run_config.validation_indices)
    if found != fingerprint:
        why = "it lacks samples the run used" if found is None else "its samples' vectors differ"
        raise UserError(f"{index.folder} is not the dataset run {run} was trained on ({why}); use {trained_on}")


def emission_strength(index: DatasetIndex) -> float | None:
    """The ball's emission strength recorded in the dataset card (None: not recorded or not fixed)."""
    value = index.card.scene.emission_strength if index.card else None
    return float(value) if value else None


def world_radiance(index: DatasetIndex) -> float | None:
    """The world's brightest linear channel recorded in the card (None: not recorded, or not a
    constant colour); 0.0 means a black world."""
    value = index.card.scene.world_radiance if index.card else None
    return None if value is None else float(value)


SIXTEEN_BIT_GREY = ("I;16", "I;16B", "I;16L", "I")  # how Pillow opens a 16-bit greyscale PNG


def load_image(path: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB image; RGBA files (the seed's) lose their alpha; 16-bit greyscale is
    scaled to 8 bits (Pillow's own conversion clips it: every mid grey would read as white). A
    picture over Pillow's decompression-bomb limit (≈ 179 million pixels) is refused unread."""
    try:
        with Image.open(path) as image:
            if image.mode in SIXTEEN_BIT_GREY:
                grey = np.clip(np.rint(np.asarray(image, np.float64) / 257.0), 0, 255).astype(np.uint8)
                return np.repeat(grey[..., None], 3, axis=2)
            return np.asarray(image.convert("RGB"))
    except Image.DecompressionBombError as err:
        raise UserError(f"cannot read image {path}: it is too large to be a picture of this scene ({err})") from None
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read image {path} ({err})") from None


def save_png(path: str, image) -> None:
    """Write ``image`` ((H, W, 3) uint8 array, or a PIL image) as a PNG at ``path``, atomically: encoded
    in memory, then written under a temporary name and renamed, so a full disk or a kill never leaves
    a broken or empty file under the final name (the one way every image outside Blender is written)."""
    buffer = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))).save(buffer, format="PNG")
    write_atomically(path, buffer.getvalue())


CACHE_DIR = ".blendercnn_cache"


def _cache_key(index: DatasetIndex, shape: tuple) -> str:
    """Changes whenever the sample set, the vectors or the image files change."""
    digest = hashlib.sha256()
    digest.update(repr(shape).encode())
    digest.update(index.indices.tobytes())
    digest.update(index.vectors.tobytes())
    for row in range(len(index.indices)):
        stat = os.stat(index.image_path(row))
        digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def cached_images(index: DatasetIndex) -> np.ndarray:
    """All images as one read-only (N, H, W, 3) uint8 array, memory-mapped from a cache beside the dataset.

    The PNGs are decoded once into ``<dataset>/.blendercnn_cache/images-<key>.npy``;
    later epochs and runs map that file instead of decoding again. uint8 on disk and
    mapped lazily, so even 10,000 x 256 x 256 (1.9 GB) costs no float copy in memory:
    batches are converted to float32 one at a time.
    """
    first = _first_readable(index)
    shape = (len(index.indices), *first.shape)
    cache_dir = os.path.join(index.folder, CACHE_DIR)
    path = os.path.join(cache_dir, f"images-{_cache_key(index, shape)}.npy")
    if not os.path.exists(path):
        os.makedirs(cache_dir, exist_ok=True)
        for stale in os.listdir(cache_dir):
            os.remove(os.path.join(cache_dir, stale))
        temp_path = path + ".partial"
        try:
            _decode_all(index, np.lib.format.open_memmap(temp_path, mode="w+", dtype=np.uint8, shape=shape))
            os.replace(temp_path, path)
        finally:
            if os.path.exists(temp_path):  # a failed decode leaves no half-filled cache behind
                os.remove(temp_path)
    return np.load(path, mmap_mode="r")


def _first_readable(index: DatasetIndex) -> np.ndarray:
    """The first image that decodes (its shape is the dataset's); all problems reported if none does."""
    for row in range(len(index.indices)):
        try:
            return load_image(index.image_path(row))
        except UserError:
            continue
    raise UserError(f"none of the {len(index.indices)} images in {index.folder} can be read")


def _decode_all(index: DatasetIndex, array: np.ndarray) -> None:
    """Fill ``array`` (N, H, W, 3) with every image; UserError naming how many cannot be read, and which."""
    problems = []
    for row in range(array.shape[0]):
        try:
            image = load_image(index.image_path(row))
        except UserError as err:
            problems.append(str(err).removeprefix("cannot read image "))
            continue
        if image.shape != array.shape[1:]:
            problems.append(f"{index.image_path(row)} is {image.shape[1]}x{image.shape[0]}, not "
                            f"{array.shape[2]}x{array.shape[1]} as the first")
            continue
        array[row] = image
    array.flush()
    del array
    if problems:
        shown = "; ".join(problems[:3]) + ("; …" if len(problems) > 3 else "")
        raise UserError(f"{len(problems)} of {len(index.indices)} images in {index.folder} cannot be used ({shown}); "
                        "run generate on the folder again to render damaged images anew")


def split_rows(count: int, seed: int, validation_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffle of rows 0 .. count-1 into (train, validation), each sorted ascending.

    At least one row goes to each side when count >= 2.
    """
    if count < 2:
        raise UserError(f"need at least 2 samples to split into training and validation, got {count}")
    order = np.random.default_rng(seed).permutation(count)
    n_val = min(count - 1, max(1, int(round(count * validation_fraction))))
    return np.sort(order[n_val:]), np.sort(order[:n_val])
