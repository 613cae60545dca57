"""Training steps on tiles: the radiance model's half- and full-resolution work done for one tile of each image. No bpy.

At 256² most of a radiance training step (batch 8, two CPU cores, 152 ms) is spent at half and
full resolution: the view-transform lookup 35 %, the coloured light and the ball's coverage 17 %,
the half-resolution block and the resize to full 36 %; everything below half resolution costs
13 %. A tile step (``--tile-fraction N``) runs the model's lower blocks on the whole image, then
its half- and full-resolution layers only for one (R/N)² tile of each image, a cell of the
regular N × N grid drawn uniformly per image and step (every pixel equally likely: the tile's
loss is the whole image's in expectation), and compares it with the same tile of the render.

The tile is computed *exactly* as the whole model computes it (the same layers and weights, the
convolutions' zero padding where the tile meets the image's edge, the bilinear resize's clamping
there; tests/test_radiance.py checks it to 1e-5): only which pixels the loss looks at changes.
Validation, the saved models and everything after training see the whole model, unchanged.

What it buys (benchmarks/train_throughput.py, docs/benchmarks.md): a step on R/4 tiles costs
≈ 35 ms instead of 152 (4.3×), but the renders' noise makes each pixel's gradient noisy, so a
step on a sixteenth of the pixels teaches far less (31.7 against 35.8 dB after 400 steps). R/2
tiles lead for the first minutes and fall behind by ten, so the recipe trains whole images.
``crop_side`` says whether a model can be trained this way; ``use_crop_steps`` makes
``model.fit`` train on tiles.
"""

from __future__ import annotations

import types

import numpy as np

from .ball_geometry import pixel_grid

LAYERS = ("conv1", "coords2_light", "ball_uv", "colour", "position", "up2", "conv2", "conv3", "log_light_half",
          "log_light", "ball_coverage", "linear_rgb", "view_transform")


def crop_side(model, resolution: int, fraction: int) -> int | None:
    """The side (pixels) of an (R/fraction)² tile for crop steps on ``model`` at ``resolution``, or None
    when the model cannot be trained on tiles (not a radiance model that draws the ball and works
    at R/2 from the light paths' R/4 blocks) or the tiles do not divide the image into a grid of
    multiples of 4 pixels."""
    names = {layer.name for layer in model.layers}
    side = resolution // fraction
    if not set(LAYERS) <= names or side % 4 or side * fraction != resolution:
        return None
    return side


class CropForward:
    """The radiance model's output for one tile per image: ``__call__(vectors (B, N), corners (B, 2)
    int32, full-resolution (row, column) of each tile's top-left pixel, multiples of 4)`` →
    (B, C, C, 3) display RGB, the same numbers as ``model(vectors)[:, r:r+C, c:c+C]``."""

    def __init__(self, model, resolution: int, side: int):
        import keras

        self.model, self.resolution, self.side = model, resolution, side
        layer = model.get_layer
        self.layers = {name: layer(name) for name in LAYERS}
        self.lower = keras.Model(model.input, [*(layer(name).output for name in ("conv1", "coords2_light", "ball_uv",
                                                                               "colour")),
                                               layer("ball_coverage").input])  # x, y or the placed ball
        half = resolution // 2
        grid = pixel_grid(half, half)
        # the half-resolution grid and an in-image mask, padded by 2 with zeros (conv2's zero padding)
        self.grid = np.pad(grid, ((2, 2), (2, 2), (0, 0))).astype(np.float32)
        self.inside = np.pad(np.ones((half, half, 1), np.float32), ((2, 2), (2, 2), (0, 0)))

    def __call__(self, vectors, corners):
        import tensorflow as tf

        conv1, light_half, ball_uv, colour, position = self.lower(vectors)
        half, tile = self.resolution // 2, self.side // 2  # the tile at half resolution: rows a .. a + tile - 1
        a = corners // 2  # (B, 2), even
        # conv1 (R/4) around the tile, one zero row and column of padding each side → nearest ×2:
        # the half-resolution input rows a - 2 .. a + tile + 1, zeros outside the image
        quarter = _window(tf.pad(conv1, [[0, 0], [1, 1], [1, 1], [0, 0]]), a // 2, tile // 2 + 2)
        upsampled = self.layers["up2"](quarter)  # (B, tile + 4, tile + 4, 24)
        grid = _window(tf.broadcast_to(self.grid[None], [tf.shape(a)[0], *self.grid.shape]), a, tile + 4)
        inside = _window(tf.broadcast_to(self.inside[None], [tf.shape(a)[0], *self.inside.shape]), a, tile + 4)
        light = _window(tf.pad(light_half, [[0, 0], [2, 2], [2, 2], [0, 0]]), a, tile + 4)
        x = tf.concat([upsampled, *_ball_channels(grid * inside, ball_uv, inside), light], axis=-1)  # (.., 34)
        x = self.layers["conv2"](x)[:, 1:-1, 1:-1]  # half-resolution rows a - 1 .. a + tile, exact
        grid = grid[:, 1:-1, 1:-1]
        x = self.layers["conv3"](tf.concat([x, *_ball_channels(grid, ball_uv)], axis=-1))
        x = self.layers["log_light_half"](tf.concat([x, *_ball_channels(grid, ball_uv)], axis=-1))
        x = _clamped(x, a - 1, half)  # rows outside the image repeat its edge, as the bilinear resize does
        log_light = self.layers["log_light"](x)[:, 2:2 + self.side, 2:2 + self.side]  # (B, C, C, 4)
        coverage = self.layers["ball_coverage"].tile(position, corners, self.side)  # (B, C, C, 1)
        linear = self.layers["linear_rgb"]([colour, log_light, coverage])
        return self.layers["view_transform"](linear)


def _ball_channels(grid, ball_uv, inside=None):
    """BallChannels' five channels for a window of the grid: (u, v), the offset to the ball, its
    squared length; zero outside the image when ``inside`` is given."""
    import tensorflow as tf

    relative = grid - ball_uv[:, None, None, :]
    if inside is not None:
        relative = relative * inside
    return [grid, relative, tf.reduce_sum(relative * relative, axis=-1, keepdims=True)]


def _window(images, corners, size: int):
    """images (B, H, W, C), corners (B, 2) → (B, size, size, C): each image's rows and columns from its corner."""
    import tensorflow as tf

    steps = tf.range(size, dtype=corners.dtype)[None]
    rows, columns = corners[:, :1] + steps, corners[:, 1:] + steps  # (B, size) each
    return tf.gather(tf.gather(images, rows, axis=1, batch_dims=1), columns, axis=2, batch_dims=1)


def _clamped(window, corners, side: int):
    """A window (B, n, n, C) whose rows and columns start at ``corners`` (may lie outside 0 .. side - 1),
    with every row and column outside the image replaced by the image's nearest edge row or column."""
    import tensorflow as tf

    n = window.shape[1]
    steps = tf.range(n, dtype=corners.dtype)[None]
    rows = tf.clip_by_value(corners[:, :1] + steps, 0, side - 1) - corners[:, :1]
    columns = tf.clip_by_value(corners[:, 1:] + steps, 0, side - 1) - corners[:, 1:]
    return tf.gather(tf.gather(window, rows, axis=1, batch_dims=1), columns, axis=2, batch_dims=1)


def use_crop_steps(model, resolution: int, side: int, seed: int) -> None:
    """Make ``model.fit`` train ``model`` on one tile of side ``side`` per image and step, a cell of
    the (R/side)² grid drawn uniformly from ``seed``'s stream (every pixel equally likely: the
    tile's loss is the whole image's in expectation). Evaluation, prediction and saving stay
    whole-image; the model itself is unchanged, only this instance's training step is replaced.

    Tiles centred on the ball half the time (half of a trained model's error lies in the R/4 tile
    around it), each pixel's loss weighted by its inverse chance, trained worse per step than
    uniform cells (29.9 against 31.7 dB after 400 steps of 64² tiles at 256²): not used."""
    import keras
    import tensorflow as tf

    forward = CropForward(model, resolution, side)
    cells = resolution // side
    tile_stream = keras.random.SeedGenerator(seed)

    def train_step(self, data):
        vectors, images = data[0], data[1]
        corners = keras.random.randint((tf.shape(vectors)[0], 2), 0, cells, seed=tile_stream, dtype="int32") * side
        target = _window(images, corners, side)
        with tf.GradientTape() as tape:  # as Keras' own train_step, on the tile
            predicted = forward(vectors, corners)
            loss = self._compute_loss(x=vectors, y=target, y_pred=predicted, sample_weight=None, training=True)
            self._loss_tracker.update_state(loss, sample_weight=tf.shape(vectors)[0])
            loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self.compute_metrics(vectors, target, predicted, sample_weight=None)

    model.train_step = types.MethodType(train_step, model)
