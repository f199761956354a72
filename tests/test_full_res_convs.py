"""--g-full-res-convs: convs at full resolution after G's last upsampling, then a conv draws the
image from their features (#13)."""

import json

import numpy as np
import pytest
from keras import layers

from kerasgan.config import DCGAN_G_MODELS, GANConfig
from kerasgan.errors import UserError
from kerasgan.nets import dcgan
from kerasgan.recipes import run_config
from kerasgan.recipes.gan import build_networks
from kerasgan.runs import Run


def _convs(generator):
    return [l for l in generator.layers if isinstance(l, (layers.Conv2D, layers.Conv2DTranspose))]


@pytest.mark.parametrize("upsample", ["upsample", "transpose"])
def test_the_image_comes_from_full_resolution_features(upsample):
    plain, one, two = (dcgan.build_generator(32, noise_dim=8, width=16, upsample=upsample, full_res_convs=n)
                       for n in (0, 1, 2))
    assert plain.output_shape == one.output_shape == two.output_shape == (None, 32, 32, 3)
    # DCGAN: the last conv reads the 16x16 features (upsampled to 32 first, or transposed);
    # otherwise it reads 32x32 ones that went through batch norm and ReLU.
    assert _convs(plain)[-1].input.shape[1:] == ((32, 32, 32) if upsample == "upsample" else (16, 16, 32))
    assert _convs(one)[-1].input.shape[1:] == _convs(two)[-1].input.shape[1:] == (32, 32, 16)
    assert [c.kernel_size for c in _convs(two)[-2:]] == [(3, 3), (3, 3)]
    assert len(_convs(two)) == len(_convs(one)) + 1 == len(_convs(plain)) + 2
    # Hand count at width 16 (channels 128, 64, 32, then 16 at 32x32): N = 1 turns the last
    # upsampling conv's 3 outputs with bias into 16 without bias, adds batch norm's 4 x 16 and
    # a 3x3 conv 16 -> 3 with bias; each further conv is 3x3 16 -> 16 without bias plus a norm.
    kernel = 9 if upsample == "upsample" else 16
    assert one.count_params() - plain.count_params() == kernel * 32 * 16 + 4 * 16 + (9 * 16 * 3 + 3) - (kernel * 32 * 3 + 3)
    assert two.count_params() - one.count_params() == 9 * 16 * 16 + 4 * 16


def test_images_stay_in_tanh_range_and_depend_on_the_noise():
    generator = dcgan.build_generator(16, noise_dim=8, width=4, full_res_convs=2, channels=1)
    noise = np.random.default_rng(0).standard_normal((4, 8)).astype("float32") * 5
    images = np.asarray(generator(noise, training=False))
    assert images.shape == (4, 16, 16, 1)
    assert images.min() >= -1 and images.max() <= 1
    assert np.abs(images[0] - images[1]).max() > 1e-4


def test_two_by_default_only_for_the_dcgan_on_shapes():
    assert GANConfig().resolved().g_full_res_convs == 2
    assert GANConfig(data_dir="path/to/images").resolved().g_full_res_convs == 0
    assert GANConfig(model="wgan-gp").resolved().g_full_res_convs == 0
    assert GANConfig(g_full_res_convs=0).resolved().g_full_res_convs == 0
    for n, features in ((1, (16, 16, 32)), (0, (16, 16, 64))):
        generator, _ = build_networks(GANConfig(model="lsgan", image_size=16, width=16, g_full_res_convs=n).resolved())
        assert _convs(generator)[-1].input.shape[1:] == features


def test_bad_values_and_other_generators_are_refused():
    for model in DCGAN_G_MODELS:
        GANConfig(model=model, g_full_res_convs=1).resolved()
    for model in ("gan", "cgan", "cdcgan", "infogan", "began"):
        with pytest.raises(UserError, match="--g-full-res-convs is an option of the DCGAN generator"):
            GANConfig(model=model, g_full_res_convs=1).resolved()
    with pytest.raises(UserError, match="must be 0 or more"):
        GANConfig(g_full_res_convs=-1).resolved()
    with pytest.raises(UserError, match="256 px generator"):
        GANConfig(image_size=256, g_full_res_convs=1).resolved()


def test_a_run_saved_before_the_option_keeps_dcgans_last_layer(tmp_path):
    config = GANConfig().resolved().to_dict()
    del config["g_full_res_convs"]
    run = Run(tmp_path / "old_shapes_run")
    run.root.mkdir()
    run.config_path.write_text(json.dumps(config))
    assert run_config(run).g_full_res_convs == 0
