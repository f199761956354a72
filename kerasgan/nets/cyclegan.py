"""CycleGAN networks: the ResNet generator and the PatchGAN discriminator, at 64 and 256.

Generators are fully convolutional: image [B, H, W, 3] -> image [B, H, W, 3] in [-1, 1] for
any H and W divisible by 4, so an exported translator takes photos of any such size.

- 64 (the course variant): two k4 stride-2 convs down (H/4, 2*filters channels), residual
  blocks, two (nearest upsample x2 + k3 conv) steps up, tanh.
- 256 (Zhu et al., 2017, Johnson et al.'s layout): c7s1-64, d128, d256, 6 or 9 residual
  blocks R256, u128, u64, c7s1-3 with reflection padding; 11,378,179 conv parameters at
  filters=64 and 9 blocks, as the paper's reference code.

Discriminators map an image to a grid of logits, one per overlapping patch (no sigmoid):
PatchGAN-46 at 64 (four k4 s2 convs: [B, H/16, W/16, 1]) and PatchGAN-70 at 256
(C64-C128-C256 stride 2, C512 and the logit conv stride 1: [B, 30, 30, 1] at 256). The DC
discriminator from `nets.dcgan` (one logit [B, 1]) is the alternative for `--disc dc`.
"""

import keras
from keras import layers

from kerasgan.nets import dcgan
from kerasgan.nets.layers import ReflectionPadding2D, apply, conv, kernel_initializer, norm_layer

IMAGE_SIZES = (64, 256)
DISCRIMINATORS = ("patch", "dc")


def _check_size(image_size):
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"CycleGAN image size must be one of {IMAGE_SIZES}, got {image_size}")


def default_blocks(image_size):
    """6 residual blocks at 64 (and the paper's 128), 9 at 256 as in the paper."""
    return 9 if image_size >= 256 else 6


# -- generator -------------------------------------------------------------------------
def residual_block(x, norm="instance", init="normal"):
    """x + (pad, conv3, norm, ReLU, pad, conv3, norm)(x) with reflection padding; same shape."""
    filters = x.shape[-1]
    y = apply(
        x,
        ReflectionPadding2D(1), conv(filters, 3, padding="valid", init=init), norm_layer(norm), layers.ReLU(),
        ReflectionPadding2D(1), conv(filters, 3, padding="valid", init=init), norm_layer(norm),
    )
    return layers.Add()([x, y])


def _conv_norm_relu(x, filters, kernel, strides, norm, init):
    return apply(x, conv(filters, kernel, strides, "same", init), norm_layer(norm), layers.ReLU())


def _reflect_conv7(x, filters, init):
    """c7s1-k without the norm: mirrored 3-pixel border, then a valid 7x7 conv."""
    return apply(x, ReflectionPadding2D(3), conv(filters, 7, padding="valid", init=init))


def _course_generator(x, filters, blocks, norm, init):
    x = _conv_norm_relu(x, filters, 4, 2, norm, init)  # H/2
    x = _conv_norm_relu(x, 2 * filters, 4, 2, norm, init)  # H/4
    for _ in range(blocks):
        x = residual_block(x, norm, init)
    x = apply(x, layers.UpSampling2D(2))  # nearest + conv: no checkerboard artefacts
    x = _conv_norm_relu(x, filters, 3, 1, norm, init)  # H/2
    x = apply(x, layers.UpSampling2D(2))
    return conv(3, 3, 1, "same", init)(x)  # H


def _paper_generator(x, filters, blocks, norm, init):
    x = apply(_reflect_conv7(x, filters, init), norm_layer(norm), layers.ReLU())  # c7s1-64
    x = _conv_norm_relu(x, 2 * filters, 3, 2, norm, init)  # d128, H/2
    x = _conv_norm_relu(x, 4 * filters, 3, 2, norm, init)  # d256, H/4
    for _ in range(blocks):
        x = residual_block(x, norm, init)  # R256
    for level in (2, 1):  # u128, u64: fractionally strided convs back to H
        up = layers.Conv2DTranspose(level * filters, 3, 2, "same", kernel_initializer=kernel_initializer(init))
        x = apply(x, up, norm_layer(norm), layers.ReLU())
    return _reflect_conv7(x, 3, init)  # c7s1-3


def build_generator(image_size=64, filters=64, blocks=None, norm="instance", init="normal", name="generator"):
    """image [B, H, W, 3] -> image [B, H, W, 3] in [-1, 1], for H and W divisible by 4.

    `image_size` picks the variant (64: course, 256: paper); `blocks` defaults to
    `default_blocks(image_size)`; `filters` is the first conv's width (64 in both originals).
    """
    _check_size(image_size)
    blocks = default_blocks(image_size) if blocks is None else blocks
    body = _paper_generator if image_size >= 256 else _course_generator
    image = keras.Input((None, None, 3), name="image")
    x = body(image, filters, blocks, norm, init)
    translated = layers.Activation("tanh", dtype="float32", name="translated")(x)
    return keras.Model(image, translated, name=name)


# -- PatchGAN discriminator ------------------------------------------------------------
def patch_layers(image_size, filters=64):
    """The PatchGAN conv stack as (filters, kernel, stride, padding) tuples, the logit conv last."""
    _check_size(image_size)
    if image_size >= 256:  # pix2pix / CycleGAN n_layers=3: receptive field 70
        return [(filters, 4, 2, 1), (2 * filters, 4, 2, 1), (4 * filters, 4, 2, 1),
                (8 * filters, 4, 1, 1), (1, 4, 1, 1)]
    # The course's 64x64 variant: four k4 s2 p1 convs, receptive field 46.
    return [(filters, 4, 2, 1), (2 * filters, 4, 2, 1), (4 * filters, 4, 2, 1), (1, 4, 2, 1)]


def receptive_field(conv_stack):
    """(size, jump, offset) of one output cell for (filters, kernel, stride, padding) convs.

    Output cell i sees input rows [i * jump + offset, i * jump + offset + size - 1] (offset is
    negative where zero padding lies outside the image).
    """
    size, jump, offset = 1, 1, 0
    for _, kernel, stride, padding in conv_stack:
        size += (kernel - 1) * jump
        offset -= padding * jump
        jump *= stride
    return size, jump, offset


def patch_grid(image_size, conv_stack=None):
    """The side of the logit grid for a square input of side `image_size`."""
    side = image_size
    for _, kernel, stride, padding in conv_stack or patch_layers(image_size):
        side = (side + 2 * padding - kernel) // stride + 1
    return side


def build_patch_discriminator(image_size=64, filters=64, norm="instance", spectral_norm=False,
                              init="normal", name="discriminator"):
    """image [B, H, W, 3] -> logits [B, h, w, 1]; h = patch_grid(H): 4 at 64, 30 at 256.

    No norm on the first conv (as pix2pix), LeakyReLU(0.2) after every conv but the last.
    Zero padding is explicit so the grid and receptive field match the PyTorch originals.
    """
    stack = patch_layers(image_size, filters)
    image = keras.Input((None, None, 3), name="image")
    x = image
    for i, (channels, kernel, stride, padding) in enumerate(stack):
        x = apply(x, layers.ZeroPadding2D(padding), conv(channels, kernel, stride, "valid", init, spectral_norm))
        if i < len(stack) - 1:
            x = apply(x, norm_layer(norm) if i > 0 else None, layers.LeakyReLU(0.2))
    logits = layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(image, logits, name=name)


def build_discriminator(kind="patch", image_size=64, filters=64, norm="instance", spectral_norm=False,
                        init="normal", name="discriminator"):
    """`--disc patch`: logits [B, h, w, 1] per patch; `--disc dc`: one logit [B, 1] per image."""
    if kind == "patch":
        return build_patch_discriminator(image_size, filters, norm, spectral_norm, init, name)
    if kind == "dc":
        _check_size(image_size)
        return dcgan.build_discriminator(image_size, filters, norm, spectral_norm, init, name=name)
    raise ValueError(f"unknown discriminator {kind!r}; choose one of {DISCRIMINATORS}")
