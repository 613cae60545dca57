"""Train as it renders: the images of a dataset that generate is still writing. No bpy, no TensorFlow.

``train --follow`` starts as soon as a few images exist and takes, at each epoch's start, the
images finished so far. Three rules keep that sound:

- Which samples: those metadata.json lists. The generator rewrites it every few seconds
  (generator.TABLE_FLUSH_SECONDS), listing only images committed whole, so a half-written
  image is never read.
- Which side: :func:`validation_by_index`, a fixed hash of (split seed, sample index). A
  sample's side never depends on how many others exist, so no image ever moves between
  training and validation as the dataset grows.
- When the growth ends: no generate run holds the folder's writer lock
  (DatasetFolder.writer_running). A generator that finishes, is cancelled or is killed drops
  it (the system drops a dead process's locks), and whatever it finished is what there is.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..dataset_card import CARD_NAME
from ..dataset_format import METADATA_NAME, DatasetFolder, read_metadata
from ..errors import UserError
from ..run_config import FOLLOW_START_WAIT_S
from .dataset import DatasetIndex, index_of_vectors, load_image

MIN_SAMPLES = 32  # images before the first epoch (enough to place the ball and hold some validation)
FIRST_CAPACITY = 4096  # samples the arrays hold before they first grow (they double from there)
POLL_SECONDS = 1.0  # how often to look for the first images while waiting
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def validation_by_index(indices: np.ndarray, seed: int, fraction: float) -> np.ndarray:
    """(N,) bool: True where a sample goes to validation. A pure function of (seed, sample index):
    a SplitMix64 hash of both, as a fraction of 2^64, below ``fraction`` (in (0, 1))."""
    with np.errstate(over="ignore"):
        z = np.asarray(indices, np.uint64) * _GOLDEN + np.uint64(seed % 2**64) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / 2.0**53 < fraction


def split_by_index(indices: np.ndarray, seed: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows) of ``indices`` by validation_by_index, each ascending."""
    validation = validation_by_index(indices, seed, fraction)
    return np.flatnonzero(~validation), np.flatnonzero(validation)


class GrowingDataset:
    """The images of a dataset folder loaded as they appear, kept in memory (uint8).

    After :meth:`refresh`, rows 0 .. count-1 of ``images`` (capacity, H, W, 3) and ``vectors``
    (capacity, VECTOR_SIZE) hold the samples ``indices[:count]``, in the order they were
    loaded. Capacity starts at the card's planned count, at most FIRST_CAPACITY, and doubles as
    samples arrive: memory follows what is loaded, not what the card promises."""

    def __init__(self, folder: str):
        self.folder = DatasetFolder(folder)
        self.count = 0
        self.indices = np.zeros(0, np.int64)
        self.vectors: np.ndarray | None = None
        self.images: np.ndarray | None = None
        self._loaded: set[int] = set()
        self._card = None

    def generating(self) -> bool:
        """Whether a generate run is writing into the folder now."""
        return self.folder.writer_running()

    def refresh(self) -> int:
        """Load every image metadata.json lists that is not loaded yet; returns how many were added."""
        path = self.folder.file(METADATA_NAME)
        vectors = read_metadata(path) if os.path.exists(path) else {}
        if not vectors:
            return 0  # generate has not finished its first image yet
        index = index_of_vectors(self.folder.path, vectors)
        if index.card is None:
            raise UserError(f"{self.folder.path} is not a dataset this tool generates (no dataset card): "
                            "--follow needs one; train on it without --follow")
        self._card = index.card
        new_rows = [row for row, sample in enumerate(index.indices) if int(sample) not in self._loaded]
        for row in new_rows:
            self._add(int(index.indices[row]), index.vectors[row], load_image(index.image_path(row)))
        return len(new_rows)

    def _add(self, sample: int, vector: np.ndarray, image: np.ndarray) -> None:
        if self.images is None:
            # Room for what the card promises, but never more than FIRST_CAPACITY up front: a card of
            # 10⁷ samples reserves nothing it has not loaded (the arrays double as samples arrive).
            capacity = min(max(self._card.count, MIN_SAMPLES), FIRST_CAPACITY)
            self.images = np.empty((capacity, *image.shape), np.uint8)
            self.vectors = np.zeros((capacity, len(vector)), np.float32)
            self.indices = np.zeros(capacity, np.int64)
        elif image.shape != self.images.shape[1:]:
            raise UserError(f"{self.folder.image_path(sample)} is {image.shape[1]}x{image.shape[0]}, not "
                            f"{self.images.shape[2]}x{self.images.shape[1]} as the first")
        if self.count == len(self.images):  # generate was resumed with a larger count
            grow = len(self.images)
            self.images = np.concatenate([self.images, np.empty_like(self.images[:grow])])
            self.vectors = np.concatenate([self.vectors, np.zeros_like(self.vectors[:grow])])
            self.indices = np.concatenate([self.indices, np.zeros_like(self.indices[:grow])])
        self.images[self.count], self.vectors[self.count], self.indices[self.count] = image, vector, sample
        self.count += 1
        self._loaded.add(sample)

    def index(self) -> DatasetIndex:
        """What is loaded, as a DatasetIndex whose rows are the rows of ``images`` (not sorted)."""
        return DatasetIndex(self.folder.path, self.indices[:self.count].copy(), self.vectors[:self.count].copy(),
                            self._card)

    def wait_for_start(self, seed: int, fraction: float, stop_requested, report,
                       start_wait_s: float = FOLLOW_START_WAIT_S) -> None:
        """Until at least MIN_SAMPLES images, with one on each side of the split, are loaded.

        A folder without a dataset card gets ``start_wait_s`` seconds for a generate run to begin.
        UserError when no generate run is writing and there are fewer images (then there never
        will be more); returns early, with what there is, when ``stop_requested`` is set."""
        waited_since = time.monotonic()
        while True:
            generating = self.generating()  # looked at before reading: a run that has ended wrote its last table
            self.refresh()
            if self._enough(seed, fraction) or stop_requested.is_set():
                return
            starting = not os.path.exists(self.folder.file(CARD_NAME)) and \
                time.monotonic() - waited_since < start_wait_s
            if not generating and not starting:
                if self.count == 0:
                    raise UserError(f"no images in {self.folder.path} and no generate run is writing into it "
                                    f"(waited {start_wait_s:g} s); start generate first, or train without --follow")
                raise UserError(f"{self.folder.path} holds {self.count} images and no generate run is writing "
                                f"into it; --follow starts at {MIN_SAMPLES} (train without --follow)")
            report("waiting", images=self.count, needed=MIN_SAMPLES, waited_s=time.monotonic() - waited_since)
            time.sleep(POLL_SECONDS)

    def _enough(self, seed: int, fraction: float) -> bool:
        if self.count < MIN_SAMPLES:
            return False
        train, validation = split_by_index(self.indices[:self.count], seed, fraction)
        return len(train) > 0 and len(validation) > 0
