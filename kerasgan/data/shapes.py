"""`shapes`: a built-in procedural dataset that needs no download.

Coloured circles, squares and triangles on smooth two-colour backgrounds with a little noise.
Every image carries two attribute labels, `shape` and `color`, for conditional models, and
the colours split it into two unpaired domains for CycleGAN (red shapes <-> blue shapes by
default). Deterministic for a given seed.

`shapes-dot` (`make_shapes(..., dot=True)`) adds a third attribute that covers a few pixels:
a small disc (radius size/16: 2 px at 32x32) at the centre of the shape, like an eye on a
face, whose colour `dot` (white, black, cyan or magenta) is drawn independently of the shape
and its colour. Conditional models that follow big attributes but not small ones show it
(#17). (A first version put the dot at a fixed place in a corner: today's concat conditioning
followed that one, 0.96 of the judge's accuracy after 600 steps, so it did not show the issue.)
"""

import numpy as np

SHAPES = ("circle", "square", "triangle")
COLORS = {
    "red": (215, 45, 40),
    "green": (45, 170, 70),
    "blue": (40, 80, 215),
    "yellow": (235, 200, 40),
}
ATTRIBUTES = {"shape": SHAPES, "color": tuple(COLORS)}
DOT_COLORS = {
    "white": (245, 245, 245),
    "black": (15, 15, 15),
    "cyan": (30, 220, 230),
    "magenta": (225, 40, 200),
}
DOT_ATTRIBUTES = {**ATTRIBUTES, "dot": tuple(DOT_COLORS)}


def dot_radius(size):
    """The `dot` disc's radius in pixels: size/16."""
    return size / 16
DOMAINS = ("red", "blue")


def _shape_mask(kind, yy, xx, cy, cx, radius):
    """Soft (anti-aliased) coverage in [0, 1] of one shape on a pixel grid."""
    dy, dx = yy - cy, xx - cx
    if kind == "circle":
        signed = np.sqrt(dy**2 + dx**2) - radius
    elif kind == "square":
        signed = np.maximum(np.abs(dy), np.abs(dx)) - radius * 0.85
    else:  # upward triangle: inside all three half-planes
        r = radius * 1.1
        signed = np.maximum.reduce([
            dy - r * 0.5,
            (-dy * 0.5 + dx * 0.866) - r * 0.5,
            (-dy * 0.5 - dx * 0.866) - r * 0.5,
        ])
    return np.clip(0.5 - signed, 0.0, 1.0)


def _draw(rng, size, shape, color, dot=None):
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    top, bottom = rng.uniform(60, 200, size=(2, 3))
    t = (yy / size)[..., None]
    image = top * (1 - t) + bottom * t + rng.normal(0, 4, size=(size, size, 3))
    radius = rng.uniform(0.18, 0.3) * size
    cy, cx = rng.uniform(radius + 1, size - radius - 1, size=2)
    coverage = _shape_mask(shape, yy, xx, cy, cx, radius)[..., None]
    fill = np.asarray(COLORS[color], np.float32) + rng.normal(0, 10, size=3)
    image = image * (1 - coverage) + fill * coverage
    if dot is not None:
        disc = _shape_mask("circle", yy, xx, cy, cx, dot_radius(size))[..., None]
        image = image * (1 - disc) + np.asarray(DOT_COLORS[dot], np.float32) * disc
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def make_shapes(num_images=2048, image_size=64, seed=0, shapes=SHAPES, colors=tuple(COLORS), dot=False):
    """Returns (images uint8 [N, S, S, 3], labels {"shape": int [N], "color": int [N]}).

    Label integers index the full `SHAPES` and `COLORS` lists, whatever subset is drawn.
    With `dot`, every image also has a small disc whose colour is the label "dot" (indexing
    `DOT_COLORS`), uniform and independent of the others; without it the images are the same
    as before the option existed.
    """
    for name, allowed, chosen in (("shape", SHAPES, shapes), ("color", tuple(COLORS), colors)):
        unknown = set(chosen) - set(allowed)
        if unknown:
            raise ValueError(f"unknown {name}(s) {sorted(unknown)}; choose from {allowed}")
    rng = np.random.default_rng(seed)
    shape_ids = rng.choice([SHAPES.index(s) for s in shapes], size=num_images)
    color_ids = rng.choice([list(COLORS).index(c) for c in colors], size=num_images)
    dot_ids = rng.integers(0, len(DOT_COLORS), size=num_images) if dot else None
    dots = [list(DOT_COLORS)[d] for d in dot_ids] if dot else [None] * num_images
    images = np.stack([
        _draw(rng, image_size, SHAPES[s], list(COLORS)[c], d) for s, c, d in zip(shape_ids, color_ids, dots)
    ])
    labels = {"shape": shape_ids.astype(np.int32), "color": color_ids.astype(np.int32)}
    if dot:
        labels["dot"] = dot_ids.astype(np.int32)
    return images, labels


def make_shape_domains(num_images=1024, image_size=64, seed=0, domains=DOMAINS):
    """Two unpaired domains that differ only in colour (drawn from different seeds)."""
    x, _ = make_shapes(num_images, image_size, seed, colors=(domains[0],))
    y, _ = make_shapes(num_images, image_size, seed + 1, colors=(domains[1],))
    return x, y
