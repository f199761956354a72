"""Analytic forward FLOPs of a Keras model (convolutions, transposed convolutions, dense).

Counts 2 FLOPs per multiply-add; normalisation, activations and elementwise ops are ignored
(they are a few percent of a conv net's work). A training step's FLOPs follow from the usual
rule that a backward pass costs twice its forward pass (input and weight gradients).
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


def forward_flops(model):
    """FLOPs of one forward pass for one example."""
    total = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        inner = layer.layer if isinstance(layer, keras.layers.SpectralNormalization) else layer
        if isinstance(inner, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            total += _conv_flops(layer, inner)
        elif isinstance(inner, keras.layers.Dense):
            total += 2 * inner.kernel.shape[0] * inner.kernel.shape[1]
    return total


def gan_step_flops(generator, discriminator, batch_size, n_critic=1):
    """FLOPs of one GANTrainer step (n_critic D updates, one G update) for a batch.

    D update: G forward, D forward on real and fake, D backward on both (x2).
    G update: G forward, D forward, D backward for input gradients only (x1), G backward (x2).
    """
    g, d = forward_flops(generator), forward_flops(discriminator)
    d_update = g + 2 * d + 2 * (2 * d)
    g_update = g + d + d + 2 * g
    return batch_size * (n_critic * d_update + g_update)
