"""Each architecture's recommended training recipe. No TensorFlow, no bpy (the panel reads it).

Measured on the 10,000-sample 64² benchmark dataset (benchmarks/model_quality.py, 2 CPU
cores): ``radiance`` reaches the seed's final validation PSNR fastest with batches of 16 at
Adam 0.003 (at 0.001 / 32 it took three epochs, at 0.003 / 16 one or two). ``seed`` keeps
the seed project's own.
"""

from __future__ import annotations

AUTO = "auto"  # radiance where the dataset has its baked view transform, else seed
PREFERRED = "radiance"  # won benchmarks/model_quality.py against seed on every figure
RECIPES = {
    "seed": {"batch_size": 32, "learning_rate": 1e-3},
    "radiance": {"batch_size": 16, "learning_rate": 3e-3},
}
DEFAULT_RECIPE = RECIPES["seed"]
NEEDS_VIEW_TABLE = {"radiance"}  # architectures that map linear light through the dataset's baked table


def recipe(arch: str) -> dict:
    """{"batch_size": int, "learning_rate": float} recommended for ``arch`` (the seed's if unknown)."""
    return dict(RECIPES.get(arch, DEFAULT_RECIPE))


def choose_architecture(requested: str, has_view_table: bool) -> str:
    """``requested``, or for AUTO: PREFERRED when the dataset has its view table (every dataset
    this add-on made has), else seed (the seed project's own datasets, older ones)."""
    if requested != AUTO:
        return requested
    return PREFERRED if has_view_table else "seed"
