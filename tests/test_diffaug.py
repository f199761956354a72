import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan.augment import diffaug


def images(batch=4, size=16, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, 3)), tf.float32)


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_shape_is_kept_and_gradients_reach_the_input(policy):
    x = images()
    seed = keras.random.SeedGenerator(1)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = diffaug.diff_augment(x, diffaug.parse_policy(policy), seed)
        total = tf.reduce_sum(y * y)
    grad = tape.gradient(total, x)
    assert y.shape == x.shape
    assert np.isfinite(grad.numpy()).all() and np.abs(grad.numpy()).sum() > 0


def test_translation_and_cutout_keep_the_range_and_color_stays_bounded():
    x = images(8)
    seed = keras.random.SeedGenerator(2)
    for name in ("translation", "cutout"):
        y = diffaug.diff_augment(x, (name,), seed).numpy()
        assert y.min() >= -1 and y.max() <= 1
    # Unclipped, as in the paper: brightness +-0.5, saturation x2, contrast x1.5 bound it.
    y = diffaug.rand_color(x, seed).numpy()
    assert np.abs(y).max() < 8


def test_shift_moves_each_image_by_its_own_offset_with_zero_fill():
    x = tf.reshape(tf.range(1, 2 * 5 * 5 + 1, dtype=tf.float32), (2, 5, 5, 1))
    shifted = diffaug._shift(x, tf.constant([2, -1]), axis=1).numpy()[..., 0]
    xs = x.numpy()[..., 0]
    np.testing.assert_array_equal(shifted[0, 2:], xs[0, :3])
    np.testing.assert_array_equal(shifted[0, :2], 0)
    np.testing.assert_array_equal(shifted[1, :4], xs[1, 1:])
    np.testing.assert_array_equal(shifted[1, 4], 0)


def test_translation_is_a_pure_shift_of_at_most_an_eighth():
    x = tf.reshape(tf.range(1, 32 * 32 + 1, dtype=tf.float32), (1, 32, 32, 1))
    x = tf.tile(x, (16, 1, 1, 1))
    y = diffaug.rand_translation(x, keras.random.SeedGenerator(3)).numpy()[..., 0]
    base = x.numpy()[0, ..., 0]
    shifts = set()
    for out in y:
        # The top-left surviving pixel tells the shift; the whole image must match it.
        rows, cols = np.nonzero(out)
        value = out[rows[0], cols[0]]
        src_r, src_c = np.argwhere(base == value)[0]
        dy, dx = rows[0] - src_r, cols[0] - src_c
        assert abs(dy) <= 4 and abs(dx) <= 4
        expected = np.zeros_like(base)
        expected[max(dy, 0):32 + min(dy, 0), max(dx, 0):32 + min(dx, 0)] = \
            base[max(-dy, 0):32 - max(dy, 0), max(-dx, 0):32 - max(dx, 0)]
        np.testing.assert_array_equal(out, expected)
        shifts.add((dy, dx))
    assert len(shifts) > 1


def test_cutout_zeroes_one_square_of_half_the_size():
    x = tf.ones((64, 16, 16, 3))
    y = diffaug.rand_cutout(x, keras.random.SeedGenerator(4)).numpy()[..., 0]
    sides = []
    for out in y:
        rows, cols = np.nonzero(out == 0)
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert (out == 0).sum() == height * width  # one solid rectangle
        assert height <= 8 and width <= 8
        sides.append((height, width))
    assert (8, 8) in sides  # unclipped squares are exactly half the size


def test_diffaugment_compiles_under_xla():
    seed = keras.random.SeedGenerator(5)
    policy = diffaug.parse_policy("color,translation,cutout")
    augment = tf.function(lambda x: diffaug.diff_augment(x, policy, seed), jit_compile=True)
    x = images()
    first, second = augment(x).numpy(), augment(x).numpy()
    assert first.shape == x.shape
    assert not np.allclose(first, second)  # the seed generator advances inside XLA


def test_unknown_policy_is_rejected():
    assert diffaug.parse_policy("") == ()
    with pytest.raises(ValueError, match="unknown DiffAugment policy"):
        diffaug.parse_policy("color,blur")
