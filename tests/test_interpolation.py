"""--interpolate walks the prior the generator was trained on: uniform(-1, 1) stays in its cube."""

import numpy as np
import pytest
from PIL import Image

from kerasgan import callbacks as cb


class RecordingGenerator:
    """Stands in for a generator: records its noise, returns grey 4x4 images."""

    def __init__(self):
        self.noise = []

    def __call__(self, noise, training=False):
        self.noise.append(np.array(noise))
        return np.zeros((len(noise), 4, 4, 3), np.float32)


def walk(tmp_path, latent):
    generator = RecordingGenerator()
    path = cb.interpolation_gif(generator, tmp_path / "walk.gif", noise_dim=64, points=4, frames_between=6,
                                columns=3, seed=1, latent=latent)
    assert path.is_file() and len(generator.noise) == 4 * 6
    with Image.open(path) as gif:
        assert gif.size == (3 * 6 + 2, 4 + 4)  # one row of 3 tiles of 4x4 with 2 px padding
    return np.stack(generator.noise)  # [frames, columns, noise_dim]


def test_a_uniform_prior_walk_stays_in_the_cube_and_is_linear(tmp_path):
    noise = walk(tmp_path, "uniform")
    assert noise.min() >= -1.0 and noise.max() <= 1.0
    assert noise.std() > 0.4  # spread over the cube (uniform(-1, 1) has std 0.58), not a normal's shell
    # Between two key frames the walk is a straight line: equal steps.
    steps = np.diff(noise[:6], axis=0)
    np.testing.assert_allclose(steps, np.broadcast_to(steps[:1], steps.shape), atol=1e-5)


def test_a_normal_prior_walk_starts_from_normal_key_points(tmp_path):
    noise = walk(tmp_path, "normal")
    assert np.abs(noise).max() > 1.0  # 64 x 3 x 4 normal draws leave [-1, 1]
    norms = np.linalg.norm(noise, axis=-1)
    assert np.all(np.abs(norms - 8.0) < 3.0)  # slerp stays near the sqrt(64) shell


def test_an_unknown_prior_is_refused(tmp_path):
    with pytest.raises(ValueError, match="latent"):
        cb.interpolation_gif(RecordingGenerator(), tmp_path / "walk.gif", 8, latent="cauchy")
