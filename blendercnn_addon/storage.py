"""Disk space: how much a dataset needs, checked before rendering and named when the disk fills. Blender-free.

PNG sizes measured on this scene's renders: about half the raw RGB bytes (64 x 64: 5.8-6.3 kB
of 12.3 kB raw with 16 samples; noisier few-sample renders compress a little worse), so the
estimate takes 0.6 of the raw size. The scene tables are exact: the 65³ view-transform table
(3.3 MB) and the geometry, four float32 (R, R, 3) arrays (48 R² bytes).
"""

from __future__ import annotations

import errno
import os
import shutil

from .errors import UserError

PNG_SHARE_OF_RAW = 0.6
PNG_OVERHEAD_BYTES = 1024
LUT_BYTES = 65 ** 3 * 3 * 4
TABLE_BYTES_PER_IMAGE = 120  # a line of metadata.json and of vectors.csv


def bytes_per_image(resolution: int) -> int:
    """Estimated bytes of one R x R sample on disk (PNG and its table rows)."""
    return int(PNG_SHARE_OF_RAW * resolution * resolution * 3) + PNG_OVERHEAD_BYTES + TABLE_BYTES_PER_IMAGE


def scene_table_bytes(resolution: int) -> int:
    """Bytes of view_transform_lut.npy and scene_geometry.npz at resolution R."""
    return LUT_BYTES + 48 * resolution * resolution


def bytes_needed(images: int, resolution: int, with_tables: bool) -> int:
    """Estimated bytes still to be written for ``images`` more samples (and the tables, if not there)."""
    return images * bytes_per_image(resolution) + (scene_table_bytes(resolution) if with_tables else 0)


def nearest_existing(path: str) -> str:
    """``path`` made absolute, or its nearest parent that exists (where a folder to be made would live)."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return probe


def free_bytes(path: str) -> int:
    """Free bytes on the disk holding ``path`` (or its nearest existing parent folder)."""
    return shutil.disk_usage(nearest_existing(path)).free


def describe(size: float) -> str:
    """'812 kB', '3.4 MB', '1.2 TB' (decimal units, as disk tools show)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if size < 1000 or unit == "PB":
            return f"{size:.0f} {unit}" if unit in ("B", "kB") else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} PB"


def check_space(folder: str, images: int, resolution: int, with_tables: bool) -> None:
    """UserError, before anything is written, when the disk clearly cannot hold the job."""
    needed = bytes_needed(images, resolution, with_tables)
    free = free_bytes(folder)
    if needed > free:
        raise UserError(f"not enough disk space in {folder}: {images:,} images at {resolution}x{resolution} "
                        f"need about {describe(needed)}, {describe(free)} is free; free some space, "
                        "ask for fewer images or a smaller resolution")


def is_disk_full(error: BaseException | None, folder: str, resolution: int) -> bool:
    """Whether a failure came from a full disk: ENOSPC/EDQUOT, or too little room left for one image
    (Blender reports a failed write as a damaged or missing file, not as an errno)."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    try:
        return free_bytes(folder) < 2 * bytes_per_image(resolution)
    except OSError:
        return False


def disk_full_error(folder: str, images_left: int, resolution: int) -> UserError:
    """The one line a full disk gets: where, and how much more the rest of the job needs."""
    return UserError(f"no space left on the disk of {folder}: the {images_left:,} images still to render need "
                     f"about {describe(bytes_needed(images_left, resolution, False))} more; free some space, "
                     "then run the same command again to resume")
