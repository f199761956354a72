"""The README's Python blocks run as written (with a few steps), so they cannot rot."""

import re

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from kerasgan.data.shapes import make_shape_domains, make_shapes


def python_blocks():
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def write_pngs(folder, images):
    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:03d}.png")


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    """A working directory with the README's placeholder folders filled with shapes images."""
    monkeypatch.chdir(tmp_path)
    write_pngs(tmp_path / "path/to/images", make_shapes(32, 64, seed=1)[0])
    red, blue = make_shape_domains(16, 64, seed=2)
    write_pngs(tmp_path / "path/to/apples", red)
    write_pngs(tmp_path / "path/to/oranges", blue)
    return tmp_path


def test_the_readme_has_a_dcgan_and_a_cyclegan_block():
    blocks = python_blocks()
    assert len(blocks) == 2
    assert "kerasgan.GAN(" in blocks[0] and "kerasgan.CycleGAN(" in blocks[1]


@pytest.mark.parametrize("index", [0, 1])
def test_a_readme_python_block_runs(user_folder, index):
    block = python_blocks()[index]
    short = re.sub(r"\bsteps=\d+", "steps=2", block)  # the only change: fewer steps
    assert short.count("steps=2") == 1
    namespace = {}
    exec(compile(short, f"README.md python block {index + 1}", "exec"), namespace)
    if index == 0:
        assert namespace["images"].shape == (16, 64, 64, 3) and namespace["images"].dtype == np.uint8
        assert namespace["more"].shape == (8, 64, 64, 3)
        assert (user_folder / "exports" / "dcgan_images_64" / "1" / "saved_model.pb").exists()
        assert namespace["gan"].trainer is not None and namespace["run"].root.name == "dcgan_images_64"
    else:
        oranges = namespace["oranges"]
        assert oranges.shape == (4, 64, 64, 3) and oranges.dtype == np.uint8
        again = namespace["to_orange"](namespace["apples"])
        assert again.shape == oranges.shape
        assert np.abs(again.astype(int) - oranges.astype(int)).max() <= 2  # the export is the same G
