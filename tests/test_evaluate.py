"""`python -m kerasgan.evaluate`: folders, exported and checkpointed generators, CycleGAN pairs."""

import contextlib
import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerasgan.commands import train_gan as train_dcgan
from conftest import ROOT
from kerasgan.commands import evaluate
from kerasgan.data.shapes import make_shapes
from kerasgan.errors import UserError
from kerasgan.export import export_conditional_generator, export_generator, export_translator
from kerasgan.images import save_png, to_uint8
from kerasgan.metrics import InceptionFeatures
from kerasgan.metrics import callback as fid_cb
from kerasgan.nets.conditional import build_conditional_dcgan_generator
from kerasgan.nets.dcgan import build_generator

# Eight images give a rank-deficient covariance; expected here, and tested in test_metrics.
pytestmark = pytest.mark.filterwarnings("ignore:FID statistics from")

FID_FLAGS = ["--fid-weights", "random", "--fid-batch-size", "8"]


@pytest.fixture(scope="module")
def extractor():
    return InceptionFeatures(weights=None, batch_size=8)


@pytest.fixture(autouse=True)
def shared_extractor(extractor, monkeypatch, tmp_path):
    """Builds the random InceptionV3 once per module (6 s each time otherwise), and keeps the
    statistics cache inside the test's directory."""
    def inception_from_flag(weights, batch_size, progress=False):
        assert (weights, batch_size) == ("random", 8)  # what FID_FLAGS asks for
        return extractor

    monkeypatch.setattr(evaluate, "inception_from_flag", inception_from_flag)
    monkeypatch.setenv("KERASGAN_CACHE", str(tmp_path / "cache"))


def image_folder(path, images):
    for i, image in enumerate(images):
        save_png(image, path / f"{i:03d}.png")
    return path


@pytest.fixture
def shapes_folders(tmp_path):
    """Eight 32x32 shapes images, and the same images with inverted colours."""
    images, _ = make_shapes(8, 32, seed=3)
    return image_folder(tmp_path / "a", images), image_folder(tmp_path / "b", 255 - images)


@contextlib.contextmanager
def console_as_commands_have_it():
    """The kerasgan logger's console handlers, as the command line installs them (and after,
    the logger as it was)."""
    from kerasgan.progress import log, show_on_console

    saved = log.handlers[:], log.propagate, log.level
    log.handlers.clear()
    try:
        show_on_console()
        yield
    finally:
        log.handlers[:], log.propagate = saved[0], saved[1]
        log.setLevel(saved[2])


def run_json(argv, capsys):
    """What evaluate --json prints, parsed (so nothing else on stdout), checked against what it returns."""
    capsys.readouterr()
    with console_as_commands_have_it():
        returned = evaluate.main(argv + FID_FLAGS + ["--json"])
    printed = json.loads(capsys.readouterr().out)
    assert printed == pytest.approx(returned)
    return printed


def test_folders_same_is_zero_different_is_positive(shapes_folders, capsys):
    a, b = shapes_folders
    same = run_json(["--folders", str(a), str(a)], capsys)
    assert same["fid"] == pytest.approx(0.0, abs=1e-6)
    assert (same["images_a"], same["images_b"], same["image_size"]) == (8, 8, 32)
    different = run_json(["--folders", str(a), str(b)], capsys)
    assert different["fid"] > 1.0  # (KID of 8 images is too noisy to compare)


def test_table():
    table = evaluate.format_table({"fid": 12.3456789, "kid_std": 0.000123456, "images_a": 8})
    assert table.splitlines() == [
        "metric    value",
        "fid       12.3457",
        "kid_std   0.000123456",
        "images_a  8",
    ]


def spread(generator, factor=8.0):
    """Scales a fresh generator's kernels so its images span 0..255: untrained, every image is
    ~127.5 whatever its inputs, and comparing them would prove nothing."""
    for weight in generator.weights:
        if weight.path.endswith(("kernel", "embeddings")):
            weight.assign(weight * factor)
    return generator


def image_difference(a, b):
    """Mean absolute difference of two image batches in uint8 levels (floats are quantised)."""
    a, b = (x if x.dtype == np.uint8 else to_uint8(x) for x in (np.asarray(a), np.asarray(b)))
    return np.abs(a.astype(int) - b.astype(int))


def assert_same_images(a, b, other):
    """a and b equal up to one level (the SavedModel graph and eager Keras round a few pixels
    at .5 differently), while `other` (other inputs) differs plainly, so equality means something."""
    difference = image_difference(a, b)
    assert difference.max() <= 1 and difference.mean() < 0.05
    assert image_difference(a, other).mean() > 10


def test_exported_generator(shapes_folders, tmp_path, capsys):
    generator = spread(build_generator(64, noise_dim=8, width=4))
    export_generator(generator, tmp_path / "exports", "tiny")
    a, _ = shapes_folders
    result = run_json(["--model", str(tmp_path / "exports" / "tiny"), "--data-dir", str(a),
                       "--num-samples", "12", "--save-samples", str(tmp_path / "samples")], capsys)
    assert (result["generated_images"], result["real_images"], result["image_size"]) == (12, 8, 64)
    assert result["fid"] > 0 and np.isfinite(result["kid"])

    # The saved samples are exactly what was scored: the folders route gives the same numbers
    # (this is the route to reference FID tools).
    assert len(list((tmp_path / "samples").glob("*.png"))) == 12
    from_folder = run_json(["--folders", str(tmp_path / "samples"), str(a), "--image-size", "64"], capsys)
    assert from_folder["fid"] == pytest.approx(result["fid"], rel=1e-9)

    # The export quantises to uint8 in-graph exactly as the FID pipeline quantises floats, so
    # it scores the same images as the Keras generator (and the training callback) would.
    from_export, _ = evaluate.exported_generator(tmp_path / "exports" / "tiny" / "1")
    from_keras = fid_cb.generator_sampler(generator)
    assert_same_images(from_export(5, 7), from_keras(5, 7), from_keras(5, 8))


def test_conditional_export_draws_the_inputs_the_callback_draws(tmp_path):
    label_names = {"shape": ["circle", "square", "triangle"], "color": ["red", "blue"]}
    generator = spread(build_conditional_dcgan_generator(
        {a: len(n) for a, n in label_names.items()}, 16, noise_dim=8, embed_dim=2, width=4))
    export_conditional_generator(generator, tmp_path / "exports", "cond", label_names)
    from_export, _ = evaluate.exported_generator(evaluate.resolve_export(tmp_path / "exports" / "cond"))
    from_keras = fid_cb.generator_sampler(generator, label_names)
    images = from_export(6, 3)
    assert images.shape == (6, 16, 16, 3) and images.dtype == np.uint8
    assert_same_images(images, from_keras(6, 3), from_keras(6, 4))


def test_run_checkpoint_and_its_export_agree(tiny_args, tmp_path, capsys):
    # Kaiming init: images that differ plainly between inputs, so the comparison below tells.
    run = train_dcgan.main(tiny_args + ["--steps", "2", "--no-xla", "--init", "kaiming"])
    result = run_json(["--run", str(run.root), "--num-samples", "8"], capsys)
    assert (result["real_images"], result["image_size"]) == (32, 32)  # the run's own shapes (32 px on shapes)
    assert result["fid"] > 0

    from_run, run_config = evaluate.run_generator(run.root, "latest")
    export = evaluate.resolve_export(tmp_path / "exports" / "dcgan_shapes_32")
    from_export, export_config = evaluate.exported_generator(export)
    assert_same_images(from_export(4, 1), from_run(4, 1), from_run(4, 2))
    assert run_config["seed"] == export_config["seed"] and run_config["num_images"] == 32
    with pytest.raises(UserError, match="no best checkpoint.*--fid-every"):
        evaluate.main(["--run", str(run.root), "--checkpoint", "best"] + FID_FLAGS)


def test_conditional_run_rebuilds_with_the_attribute_order_it_trained_with(tiny_args, tmp_path):
    # shapes labels are (shape, color); networks built in another order would not load the
    # checkpoint, so config.json keeps the order training used.
    run = train_dcgan.main(tiny_args + ["--model", "cdcgan", "--steps", "1", "--image-size", "16",
                                        "--no-xla", "--init", "kaiming"])
    from_run, config = evaluate.run_generator(run.root, "latest")
    assert list(config["label_names"]) == ["shape", "color"]
    export = evaluate.resolve_export(tmp_path / "exports" / "cdcgan_shapes_16")
    from_export, _ = evaluate.exported_generator(export)
    assert_same_images(from_export(6, 1), from_run(6, 1), from_run(6, 2))


def pixel_map(sign):
    """A 1x1 convolution multiplying every pixel by `sign`: identity (+1) or colour inversion
    (-1) in [-1, 1], exact after the export's uint8 round trip."""
    model = keras.Sequential([keras.Input((None, None, 3)),
                              keras.layers.Conv2D(3, 1, use_bias=False)])
    model.layers[0].kernel.assign(sign * np.eye(3, dtype=np.float32)[None, None])
    return model


def test_cyclegan_per_domain_fid(shapes_folders, tmp_path, capsys):
    x_dir, y_dir = shapes_folders  # Y is X with inverted colours
    exports = tmp_path / "exports"
    export_translator(pixel_map(-1), exports, "toy_x2y", image_size=32)  # G: X -> Y exactly
    export_translator(pixel_map(+1), exports, "toy_y2x", image_size=32)  # F: leaves Y as it is
    result = run_json(["--x2y", str(exports / "toy_x2y"), "--y2x", str(exports / "toy_y2x"),
                       "--x-dir", str(x_dir), "--y-dir", str(y_dir)], capsys)
    assert result["fid_y"] == pytest.approx(0.0, abs=1e-6)  # G(X) against Y
    assert result["fid_x"] > 1.0  # F(Y) = Y against X
    assert list(result)[:6] == ["fid_x", "kid_x", "kid_x_std", "fid_y", "kid_y", "kid_y_std"]
    assert (result["x_images"], result["y_images"], result["image_size"]) == (8, 8, 32)


@pytest.mark.parametrize("argv, message", [
    ([], "choose exactly one"),
    (["--model", "nowhere/model"], "model directory not found"),
    (["--x2y", "nowhere", "--x-dir", "x"], "need both --x-dir and --y-dir"),
    (["--folders", "a", "b", "--data-dir", "d"], "--dataset/--data-dir/--save-samples go with"),
])
def test_bad_flags_are_user_errors(argv, message):
    with pytest.raises(UserError, match=message):
        evaluate.main(argv + FID_FLAGS)


def test_missing_folder_is_one_line_and_exit_status_2(tmp_path):
    missing = tmp_path / "missing"
    result = subprocess.run(
        [sys.executable, "-m", "kerasgan.evaluate", "--folders", str(missing), str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: --folders: image folder not found: {missing}"]
