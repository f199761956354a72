"""Analytic forward FLOPs of a Keras model (convolutions, transposed convolutions, dense).

Counts 2 FLOPs per multiply-add; normalisation, activations and elementwise ops are ignored
(they are a few percent of a conv net's work). A backward pass costs twice its forward pass
when it computes input and weight gradients, once when it computes only one of them.
"""

import keras


def _conv_flops(layer, conv):
    """`layer` is the conv itself or its SpectralNormalization wrapper (which knows the shapes)."""
    kernel = conv.kernel
    kh, kw = kernel.shape[:2]
    if isinstance(conv, keras.layers.Conv2DTranspose):
        # Every input pixel scatters a kh x kw x out block.
        _, h, w, c_in = layer.input.shape
        return 2 * h * w * kh * kw * c_in * kernel.shape[2]
    _, h, w, c_out = layer.output.shape
    return 2 * h * w * kh * kw * kernel.shape[2] * c_out


def forward_flops(model, image_size=None):
    """FLOPs of one forward pass for one example.

    Fully convolutional models (built for any image size) need `image_size`: they are
    counted on a copy built for that size.
    """
    if image_size is not None:
        model = keras.models.clone_model(model, input_tensors=keras.Input((image_size, image_size, 3)))
    total = 0
    found = list(model._flatten_layers(include_self=False, recursive=True))
    # A spectral norm wrapper's layer is listed too, but only the wrapper has the shapes: count it once.
    wrapped = {id(layer.layer) for layer in found if isinstance(layer, keras.layers.SpectralNormalization)}
    for layer in found:
        if id(layer) in wrapped:
            continue
        inner = layer.layer if isinstance(layer, keras.layers.SpectralNormalization) else layer
        if isinstance(inner, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            total += _conv_flops(layer, inner)
        elif isinstance(inner, keras.layers.Dense):
            total += 2 * inner.kernel.shape[0] * inner.kernel.shape[1]
    return total


def gan_step_flops(generator, discriminator, batch_size, n_critic=1, gradient_penalty=False):
    """FLOPs one GANTrainer step performs (n_critic D updates, one G update) for a batch.

    Each D update: G forward, D forward on real and fake, D backward on both (x2); WGAN-GP
    adds a D forward and input-gradient pass on the interpolates and their weight gradients
    (counted as 6 D forwards), R1 the same at the real images. The G update reuses the last D update's G forward: D forward
    on the fakes, D backward for input gradients only (x1), G backward (x2).
    """
    g, d = forward_flops(generator), forward_flops(discriminator)
    d_update = g + 2 * d + 2 * (2 * d) + (6 * d if gradient_penalty else 0)
    g_update = d + d + 2 * g
    return batch_size * (n_critic * d_update + g_update)


def fastgan_step_flops(generator, discriminator, decoders, batch_size):
    """FLOPs of one FastGANTrainer step for a batch: GANTrainer's step (both D branches are in
    D's forward) plus the decoders on the real images: forward, and backward for their weights
    and D's features (x2). The SSIM of the reconstruction loss and the pooling are left out."""
    return gan_step_flops(generator, discriminator, batch_size) + batch_size * 3 * forward_flops(decoders)


def cyclegan_step_flops(generator, discriminator, image_size, batch_size, identity=True):
    """FLOPs of one CycleGANTrainer step for a batch (both generators and discriminators alike).

    G update: 4 generator forwards (fakes and cycles) plus 2 with the identity loss, D
    forwards on both fakes, D input gradients (x1), generator backward (x2). D update: D
    forwards on real and pooled fake in both domains, backward (x2).
    """
    g, d = forward_flops(generator, image_size), forward_flops(discriminator, image_size)
    g_passes = 6 if identity else 4
    g_update = g_passes * g + 2 * d + 2 * d + 2 * g_passes * g
    d_update = 4 * d + 2 * 4 * d
    return batch_size * (g_update + d_update)
