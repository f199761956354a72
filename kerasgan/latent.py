"""A generator's inputs drawn as training drew them: noise from its prior, labels, InfoGAN codes.

Sample grids, FID, `generate` and `evaluate` all draw through here, so a checkpoint and its
export given the same seed make the same images.
"""

import re

import numpy as np

from kerasgan.errors import UserError

LATENT_PRIORS = ("normal", "uniform")
# A label attribute becomes a named generator input beside these.
RESERVED_NAMES = ("noise", "image", "continuous")
# How conditional models read labels: G and D methods (nets/conditional.py builds each; #17).
G_CONDITIONING = ("concat", "cbn")
D_CONDITIONING = ("concat", "projection", "acgan")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_valid_attribute(name):
    """Whether `name` can name a label attribute: an identifier that no other input uses."""
    return bool(_ATTRIBUTE_NAME.fullmatch(name)) and name not in RESERVED_NAMES


def draw_noise(rng, shape, latent="normal"):
    """float32 noise of `shape` from the training prior: N(0, 1) or U(-1, 1)."""
    noise = rng.uniform(-1.0, 1.0, shape) if latent == "uniform" else rng.standard_normal(shape)
    return noise.astype(np.float32)


def fixed_noise(noise_dim, count, latent="normal", seed=0):
    """Noise for sample grids, the same for every grid of a run."""
    return draw_noise(np.random.default_rng(seed), (count, noise_dim), latent)


def signature_inputs(signature, num, labels, label_names, latent, seed):
    """Arrays for every input of the serving signature: noise, labels, continuous codes."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, spec in signature.structured_input_signature[1].items():
        shape = (num, *spec.shape[1:])
        if name == "noise":
            arrays[name] = draw_noise(rng, shape, latent)
        elif name in label_names:
            arrays[name] = (np.full(num, labels[name]) if name in labels
                            else rng.integers(0, len(label_names[name]), num))
        elif spec.dtype.is_floating:  # InfoGAN's continuous codes
            arrays[name] = rng.uniform(-1.0, 1.0, shape)
        else:
            raise UserError(f"the model has an input {name!r} that generate does not know how to fill")
        arrays[name] = arrays[name].astype(spec.dtype.as_numpy_dtype)
    return arrays


