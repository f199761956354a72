"""Per-image preprocessing in tf.data: uint8 [H, W, C] in, float32 [S, S, C] in [-1, 1] out (C: 1 or 3).

`basic` only resizes and rescales. `deluxe` is the course's augmentation: enlarge to 1.1x the
image size with bicubic interpolation, take a random crop back to the image size, and flip
left-right at random. Randomness is stateless and seeded per image, so an input pipeline that
resumes at step N yields exactly the images an uninterrupted run would have.
"""

import tensorflow as tf

PREPROCESSING = ("basic", "deluxe")


def to_unit_range(image):
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return tf.cast(image, tf.float32) / 127.5 - 1.0


def basic(image, image_size):
    image = to_unit_range(image)
    if image.shape[0] != image_size or image.shape[1] != image_size:
        image = tf.image.resize(image, (image_size, image_size), antialias=True)
    return image


def deluxe(image, image_size, seed, load_size=None):
    """Bicubic resize to `load_size` (default 1.1x), random crop to `image_size`, random flip.

    `seed` is a shape-[2] int tensor; the paper's CycleGAN setting is load_size=286 for 256.
    """
    load_size = load_size or int(round(image_size * 1.1))
    image = tf.image.resize(to_unit_range(image), (load_size, load_size), method="bicubic")
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    image = tf.image.stateless_random_crop(image, (image_size, image_size, image.shape[-1]), seed=crop_seed)
    image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    # Bicubic interpolation overshoots at edges; keep the [-1, 1] contract.
    return tf.clip_by_value(image, -1.0, 1.0)


def preprocess_fn(name, image_size, load_size=None):
    """A function (uint8 image, int seed[2]) -> float image for tf.data's map."""
    if name == "basic":
        return lambda image, seed: basic(image, image_size)
    if name == "deluxe":
        return lambda image, seed: deluxe(image, image_size, seed, load_size)
    raise ValueError(f"unknown preprocessing {name!r}; choose one of {PREPROCESSING}")
