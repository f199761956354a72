"""Greyscale data end to end: 1-channel G and D, grids, resume, export and generate (#18)."""

import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kerasgan.commands import train_gan as train_dcgan
from kerasgan.config import MODELS
from kerasgan.data.sources import is_greyscale, with_channels
from kerasgan.recipes import load_run

SIZE = 16


def grey_folder(root, classes=2, per_class=8):
    """`classes` subfolders of greyscale (mode L) PNGs: dark or bright squares on black."""
    rng = np.random.default_rng(0)
    for label in range(classes):
        folder = root / f"class{label}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = np.zeros((20, 20), np.uint8)
            top, left = rng.integers(0, 10, 2)
            pixels[top:top + 8, left:left + 8] = 120 + 100 * label
            Image.fromarray(pixels, "L").save(folder / f"{i}.png")
    return root


def flags(tmp_path, data, *extra):
    return ["--data-dir", str(data), "--image-size", str(SIZE), "--width", "4", "--noise-dim", "16",
            "--batch-size", "8", "--steps", "2", "--runs-dir", str(tmp_path / "runs"),
            "--exports-dir", str(tmp_path / "exports"), "--verbose", "0", *extra]


def test_channels_come_from_the_data_unless_forced():
    grey = np.repeat(np.arange(24, dtype=np.uint8).reshape(1, 2, 4, 3)[..., :1], 3, axis=-1)
    colour = grey.copy()
    colour[0, 0, 0, 2] += 1
    assert is_greyscale(grey) and not is_greyscale(colour)
    images, channels = with_channels(grey)
    assert channels == 1 and images.shape == (1, 2, 4, 1) and np.array_equal(images[..., 0], grey[..., 0])
    assert with_channels(colour)[1] == 3
    assert with_channels(grey, 3)[0].shape[-1] == 3
    luma, channels = with_channels(np.full((1, 1, 1, 3), (255, 0, 0), np.uint8), 1)
    assert channels == 1 and luma[0, 0, 0, 0] == 76  # 0.299 * 255


@pytest.mark.parametrize("model", MODELS)
def test_every_model_builds_one_channel_nets(model):
    from kerasgan.config import GANConfig
    from kerasgan.recipes.gan import build_networks

    size = 32 if model == "fastgan" else SIZE  # FastGAN's smallest
    config = GANConfig(model=model, image_size=size, width=4, noise_dim=16, channels=1).resolved()
    g, d = build_networks(config, {"label": ["a", "b"]} if config.conditional else None)
    assert g.output_shape == (None, size, size, 1)
    image_input = d.input["image"] if isinstance(d.input, dict) else d.input
    assert tuple(image_input.shape) == (None, size, size, 1)


@pytest.mark.parametrize("model", ["dcgan", "cgan", "infogan"])
def test_a_greyscale_folder_trains_one_channel_nets_that_export_rgb(tmp_path, model):
    data = grey_folder(tmp_path / "digits")
    run = train_dcgan.main(flags(tmp_path, data, "--model", model))
    config = json.loads((run.root / "config.json").read_text())
    assert config["channels"] == 1  # recorded: load_run and resume rebuild the same nets
    recipe = load_run(run.root, quiet=True)
    assert recipe.generator.output_shape[-1] == 1
    assert recipe.sample(3).shape == (3, SIZE, SIZE, 3)
    grid = np.asarray(Image.open(sorted(run.samples.glob("*.png"))[-1]).convert("RGB"))
    assert grid.ndim == 3
    # Exports keep serving 3-channel uint8 images (grey repeated), as every other export does.
    export = tmp_path / "exports" / run.root.name / "1"
    images = tf.saved_model.load(str(export)).signatures["generate"](
        **{"batch_size": tf.constant(2), "seed": tf.constant(0, tf.int64),
           **({"label": tf.constant(1)} if model == "cgan" else {}),
           **({"code1": tf.constant(1)} if model == "infogan" else {})})["images"].numpy()
    assert images.shape == (2, SIZE, SIZE, 3) and images.dtype == np.uint8
    assert np.array_equal(images[..., 0], images[..., 2])
    out = tmp_path / "generated.png"
    train_dcgan.main(["generate", "--model", str(export), "--num", "4", "--output", str(out)])
    assert out.exists()
    # resuming for more steps rebuilds the same 1-channel nets from config.json
    resumed = train_dcgan.main(flags(tmp_path, data, "--model", model, "--steps", "3", "--resume"))
    assert json.loads((resumed.root / "config.json").read_text())["channels"] == 1


def test_channels_3_forces_rgb_nets_on_greyscale_data(tmp_path):
    data = grey_folder(tmp_path / "digits")
    run = train_dcgan.main(flags(tmp_path, data, "--channels", "3", "--no-export"))
    assert json.loads((run.root / "config.json").read_text())["channels"] == 3
    assert load_run(run.root, quiet=True).generator.output_shape[-1] == 3


def test_fid_scores_a_greyscale_run_through_three_channel_inception(tmp_path):
    data = grey_folder(tmp_path / "digits")
    run = train_dcgan.main(flags(tmp_path, data, "--no-export", "--fid-every", "2", "--fid-samples", "8",
                                 "--fid-batch-size", "8", "--fid-weights", "random"))
    rows = (run.root / "metrics.csv").read_text().splitlines()
    assert len(rows) >= 2 and "fid" in rows[0]
