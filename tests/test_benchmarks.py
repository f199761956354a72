"""The benchmarks' analytic FLOP counts, checked against hand counts."""

import keras
import pytest

from benchmarks.flops import cyclegan_step_flops, forward_flops, gan_step_flops
from kerasgan.nets.dcgan import build_discriminator, build_generator

# The PyTorch DCGAN example at 64x64 (nz 100, ngf = ndf = 64), 2 FLOPs per multiply-add.
G_FORWARD = (2 * 100 * 4 * 4 * 512          # noise -> 4x4x512 (a dense layer here, a k4 transposed conv there)
             + 2 * 4 * 4 * 16 * 512 * 256    # k4 s2 transposed convs: input pixels x 16 taps x c_in x c_out
             + 2 * 8 * 8 * 16 * 256 * 128
             + 2 * 16 * 16 * 16 * 128 * 64
             + 2 * 32 * 32 * 16 * 64 * 3)
D_FORWARD = (2 * 32 * 32 * 16 * 3 * 64      # k4 s2 convs: output pixels x 16 taps x c_in x c_out
             + 2 * 16 * 16 * 16 * 64 * 128
             + 2 * 8 * 8 * 16 * 128 * 256
             + 2 * 4 * 4 * 16 * 256 * 512
             + 2 * 16 * 512)                 # 4x4x512 -> logit


def test_dcgan_forward_flops_match_the_hand_count():
    generator = build_generator(64, width=64, upsample="transpose")
    discriminator = build_discriminator(64, width=64)
    assert forward_flops(generator) == G_FORWARD
    assert forward_flops(discriminator) == D_FORWARD
    # One G forward shared by both updates: 3 G passes and 8 D passes per example.
    assert gan_step_flops(generator, discriminator, 64) == 64 * (3 * G_FORWARD + 8 * D_FORWARD)
    assert gan_step_flops(generator, discriminator, 1, n_critic=2) == 4 * G_FORWARD + 14 * D_FORWARD


def test_fully_convolutional_models_are_counted_at_the_given_size():
    image = keras.Input((None, None, 3))
    model = keras.Model(image, keras.layers.Conv2D(8, 3, padding="same")(image))
    assert forward_flops(model, image_size=10) == 2 * 10 * 10 * 9 * 3 * 8
    # 6 generator passes forward and 12 back, 6 discriminator passes forward, 10 back.
    assert cyclegan_step_flops(model, model, 10, 1) == (18 + 16) * 2 * 10 * 10 * 9 * 3 * 8


# The PyTorch DCGAN example's network and update (pytorch/examples dcgan/main.py): what the
# README's side-by-side rows compare with.
PYTORCH_EXAMPLE = {"model": "dcgan", "image_size": 64, "width": 64, "noise_dim": 100, "g_upsample": "transpose",
                   "norm": "batch", "d_norm": "batch", "loss": "bce", "optimizer": "adam", "lr": 2e-4, "g_lr": None,
                   "d_lr": None, "beta1": 0.5, "beta2": 0.999, "n_critic": 1, "init": "normal", "ema": 0.0,
                   "g_full_res_convs": 0, "minibatch_std": False, "spectral_norm": False, "r1": 0.0,
                   "label_smoothing": 0.0, "noisy_labels": False, "latent": "normal", "activation": None,
                   "data_preprocess": "basic", "lr_schedule": "constant"}


@pytest.mark.parametrize("row, batch", [("dcgan-64", 16), ("dcgan-64-b64", 64)])
def test_the_dcgan_rows_are_the_pytorch_examples_network(row, batch):
    from benchmarks.bench_train import config

    built = config(row)
    assert {name: getattr(built, name) for name in PYTORCH_EXAMPLE} == PYTORCH_EXAMPLE
    assert built.diffaug_policy == () and built.batch_size == batch
