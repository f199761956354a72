"""DiffAugment (Zhao et al., 2020): differentiable augmentation of real and fake batches.

Applied inside the compiled train step (XLA on GPUs) to every image D sees, real and fake,
in both the D and the G update, so G receives gradients through the augmentation. Built
only from ops XLA compiles (random draws, arithmetic, gather): no bicubic resize, no
projective transform.
Images are float [B, H, W, C] in [-1, 1]; translation and cutout fill with 0, as the paper's
code does. `seed` is a `keras.random.SeedGenerator`. Every draw goes through
`draw_for_replica`: under a tf.distribute strategy each replica takes its rows of one draw
for the global batch, so N replicas augment exactly as one device does.
"""

import keras
import tensorflow as tf
from keras import ops

from kerasgan.replicas import draw_for_replica

POLICIES = ("color", "translation", "cutout")


def parse_policy(text):
    """"color,translation,cutout" -> ("color", "translation", "cutout"); "", "none" or None -> ()."""
    if not text or text.strip() == "none":
        return ()
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown}; choose from {','.join(POLICIES)}")
    return names


def _per_image_uniform(x, seed, low=0.0, high=1.0):
    return draw_for_replica(lambda n: keras.random.uniform((n, 1, 1, 1), low, high, dtype=x.dtype, seed=seed),
                            ops.shape(x)[0])


def _per_image_randint(x, seed, shape, low, high):
    """Integers in [low, high) of shape [B, *shape], one draw per image."""
    return draw_for_replica(lambda n: keras.random.randint((n, *shape), low, high, seed=seed), ops.shape(x)[0])


def rand_brightness(x, seed):
    """Adds one offset in [-0.5, 0.5) per image."""
    return x + _per_image_uniform(x, seed, -0.5, 0.5)


def rand_saturation(x, seed):
    """Scales each pixel's distance from its grey value by a factor in [0, 2)."""
    grey = ops.mean(x, axis=3, keepdims=True)
    return (x - grey) * _per_image_uniform(x, seed, 0.0, 2.0) + grey


def rand_contrast(x, seed):
    """Scales distance from the image mean by a factor in [0.5, 1.5)."""
    mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
    return (x - mean) * _per_image_uniform(x, seed, 0.5, 1.5) + mean


def rand_color(x, seed):
    return rand_contrast(rand_saturation(rand_brightness(x, seed), seed), seed)


def _shift(x, offsets, axis):
    """Shifts each image by its own integer offset along `axis` (1 or 2), filling with 0."""
    size = x.shape[axis]
    source = ops.arange(size)[None, :] - offsets[:, None]  # [B, size]
    valid = ops.cast((source >= 0) & (source < size), x.dtype)
    moved = tf.gather(x, ops.clip(source, 0, size - 1), axis=axis, batch_dims=1)
    mask_shape = [-1, 1, 1, 1]
    mask_shape[axis] = size
    return moved * ops.reshape(valid, mask_shape)


def rand_translation(x, seed, ratio=0.125):
    """Translates each image by up to `ratio` of its size in each direction, zero fill."""
    height, width = x.shape[1], x.shape[2]
    max_dy, max_dx = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = _per_image_randint(x, seed, (), -max_dy, max_dy + 1)
    dx = _per_image_randint(x, seed, (), -max_dx, max_dx + 1)
    return _shift(_shift(x, dy, axis=1), dx, axis=2)


def rand_cutout(x, seed, ratio=0.5):
    """Zeroes one square of side `ratio` * size per image, centred anywhere (may clip)."""
    height, width = x.shape[1], x.shape[2]
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = _per_image_randint(x, seed, (1,), 0, height + (1 - cut_h % 2)) - cut_h // 2
    left = _per_image_randint(x, seed, (1,), 0, width + (1 - cut_w % 2)) - cut_w // 2
    rows = ops.arange(height)[None, :]
    cols = ops.arange(width)[None, :]
    in_rows = (rows >= top) & (rows < top + cut_h)  # [B, H]
    in_cols = (cols >= left) & (cols < left + cut_w)  # [B, W]
    inside = in_rows[:, :, None] & in_cols[:, None, :]
    return x * ops.cast(~inside, x.dtype)[..., None]


_AUGMENTS = {"color": rand_color, "translation": rand_translation, "cutout": rand_cutout}


def diff_augment(x, policy, seed, probability=None):
    """Applies each named policy in order; an empty policy returns `x` unchanged.

    With a `probability` p (a scalar tensor: adaptive augmentation's, augment/ada.py), each
    policy is applied to each image with probability p, independently. Every image is
    transformed and then kept or not, so the random draws are the same whatever p is.
    """
    for name in policy:
        augmented = _AUGMENTS[name](x, seed)
        if probability is not None:
            chosen = _per_image_uniform(x, seed) < ops.cast(probability, x.dtype)
            augmented = ops.where(chosen, augmented, x)
        x = augmented
    return x
