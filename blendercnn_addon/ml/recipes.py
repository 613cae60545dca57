"""Each architecture's recommended training recipe. No TensorFlow, no bpy (the panel reads it).

Measured on the 10,000-sample 64² benchmark dataset (benchmarks/model_quality.py, 2 CPU
cores): ``radiance`` reaches the seed's final validation PSNR fastest with batches of 16 at
Adam 0.003 (0.001 / 32: three epochs; 0.003 / 16: one). ``seed`` keeps the seed project's own.
"""

from __future__ import annotations

RECIPES = {
    "seed": {"batch_size": 32, "learning_rate": 1e-3},
    "radiance": {"batch_size": 16, "learning_rate": 3e-3},
}
DEFAULT_RECIPE = RECIPES["seed"]


def recipe(arch: str) -> dict:
    """{"batch_size": int, "learning_rate": float} recommended for ``arch`` (the seed's if unknown)."""
    return dict(RECIPES.get(arch, DEFAULT_RECIPE))
