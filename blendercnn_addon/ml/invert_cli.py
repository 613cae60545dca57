"""``python -m blendercnn_addon invert``: pictures in, vectors out (files and lines). No bpy.

Everything is checked before anything is written: the model, every picture's size, the output
path. A folder's CSV is written at the end, atomically, so an interrupted run leaves no half file.
"""

from __future__ import annotations

import csv
import io
import os

import numpy as np

from ..dataset_format import write_atomically
from ..errors import UserError
from .dataset import load_image, save_png
from .inference import load_run
from .invert import STEPS, Estimate, check_picture, invert, judge

SCORE_COLUMNS = ("fit_psnr_db", "mask_psnr_db", "note")


def _describe(estimate: Estimate, names) -> str:
    vector = estimate.vector
    lines = [f"{name}: {value:.4f}" for name, value in zip(names, vector)]
    lines += [f"vector: {','.join(f'{value:.5f}' for value in vector)}", f"fit_psnr_db: {estimate.psnr_db:.2f}",
              f"mask_psnr_db: {estimate.mask_psnr_db:.2f}", f"seconds: {estimate.seconds:.2f}"]
    return "\n".join(lines)


def invert_one(run: str, picture_path: str, out: str | None, steps: int = STEPS) -> int:
    """Print the estimate for one picture; write its fitted image to ``out`` if given. 0, or UserError."""
    trained = load_run(run)
    picture = load_image(picture_path)
    check_picture(picture, trained.resolution, picture_path)
    estimate = invert(trained, picture, steps)
    problem = judge(estimate)
    if problem:
        raise UserError(f"{picture_path}: {problem}")
    if out:
        save_png(out, estimate.image)
    print(_describe(estimate, trained.config.layout.names))
    return 0


def invert_folder(run: str, folder: str, out: str, steps: int = STEPS) -> int:
    """Estimate every .png in ``folder``; write the CSV ``out``. Pictures of another size refuse the
    whole job (nothing written); a picture without a ball or with a poor fit gets a note instead."""
    trained = load_run(run)
    names = sorted(name for name in os.listdir(folder) if name.lower().endswith(".png") and not name.startswith(".")
                   and os.path.isfile(os.path.join(folder, name)))  # not a folder named x.png, not hidden files
    if not names:
        raise UserError(f"no .png pictures in {folder}")
    pictures = {name: load_image(os.path.join(folder, name)) for name in names}
    for name, picture in pictures.items():
        check_picture(picture, trained.resolution, os.path.join(folder, name))
    rows = [_row(trained, name, picture, steps) for name, picture in pictures.items()]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("name", *trained.config.layout.names, *SCORE_COLUMNS))
    writer.writerows(rows)
    write_atomically(out, text.getvalue().encode())
    noted = sum(1 for row in rows if row[-1])
    print(f"{len(rows)} pictures estimated into {out}" + (f"; {noted} with a note (no ball, or a poor fit)"
                                                         if noted else ""))
    return 0


def _row(trained, name: str, picture: np.ndarray, steps: int) -> list:
    stem = os.path.splitext(name)[0]
    try:
        estimate = invert(trained, picture, steps)
    except UserError as err:  # no ball in this one
        return [stem, *([""] * trained.config.layout.size), "", "", str(err)]
    return [stem, *(repr(float(v)) for v in estimate.vector), f"{estimate.psnr_db:.2f}",
            f"{estimate.mask_psnr_db:.2f}", judge(estimate) or ""]
