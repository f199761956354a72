"""Detection rate (kerasgan/metrics/detector.py, `kerasgan evaluate --detector`): OpenCV's cat-face
cascade on real Grumpy Cat photos against flat and noise images."""

import json
import sys
import types

import numpy as np
import pytest

from conftest import shared_data
from kerasgan.commands import evaluate
from kerasgan.data.sources import folder_source
from kerasgan.errors import InvalidValue, MissingPath, UserError
from kerasgan.images import save_png
from kerasgan.metrics import detector as detector_module
from kerasgan.metrics.detector import Detector, detection_rate

cv2 = pytest.importorskip("cv2")
CAT_CASCADE = f"{cv2.data.haarcascades}haarcascade_frontalcatface.xml"
NUM_CATS = 24


@pytest.fixture(scope="module")
def cats():
    """The first 24 Grumpy Cat faces, uint8 64x64 (the cascade finds 97.5% of all 204 at 128 px)."""
    return folder_source(shared_data("grumpifyCat/cat/grumpifyBprocessed"), 64).read_many(range(NUM_CATS))[0]


@pytest.fixture(scope="module")
def detector():
    return Detector(CAT_CASCADE)


def blanks(count, seed=0):
    """Half flat grey images, half uniform noise: nothing a cat-face cascade should find."""
    rng = np.random.default_rng(seed)
    flat = np.full((count // 2, 64, 64, 3), 128, np.uint8)
    noise = rng.integers(0, 256, (count - count // 2, 64, 64, 3), dtype=np.uint8)
    return np.concatenate([flat, noise])


def test_rate_counts_images_with_a_detection(cats, detector):
    found = detector(cats)
    assert found.sum() >= NUM_CATS - 2  # at most one cat in twelve missed
    assert not detector(blanks(12)).any()
    # 24 cats and 12 blank images, shuffled: the rate is the cats found over all 36.
    mixed = np.concatenate([cats, blanks(12, seed=1)])[np.random.default_rng(0).permutation(NUM_CATS + 12)]
    result = detection_rate(mixed, detector, batch_size=10)
    assert (result["detected"], result["images"]) == (found.sum(), NUM_CATS + 12)
    assert result["rate"] == pytest.approx(found.sum() / 36)


def test_small_images_are_upscaled_before_detecting(cats, detector):
    """At 32 px the cats' faces are near the cascade's 24 px window: unscaled it finds about
    half, resized to 128 px nearly all (56% and 97% over the 204 cats)."""
    small = np.stack([cv2.resize(image, (32, 32), interpolation=cv2.INTER_AREA) for image in cats])
    upscaled = detection_rate(small, detector)["rate"]
    own_size = detection_rate(small, Detector(CAT_CASCADE, size=None))["rate"]
    assert upscaled >= 0.9
    assert own_size <= 0.75


def test_float_images_in_minus_one_one_give_the_same_detections(cats, detector):
    floats = cats.astype(np.float32) / 127.5 - 1.0
    np.testing.assert_array_equal(detector(floats), detector(cats))
    # Any size and greyscale are accepted too: a list of differently sized images.
    grey = [cats[0][..., :1], cv2.resize(cats[1], (100, 80))]
    assert detector(grey).tolist() == detector(cats[:2]).tolist()
    with pytest.raises(InvalidValue, match=r"\[-1, 1\]"):
        detector(cats.astype(np.float32))  # floats in 0..255


def test_bad_cascades_and_settings_are_one_line_errors(tmp_path):
    with pytest.raises(MissingPath, match="cascade file not found"):
        Detector(tmp_path / "absent.xml")
    # A file OpenCV's parser rejects (it raises), and a cascade without stages (load() returns False).
    for name, text in (("notes.xml", "not xml at all\n"),
                       ("storage.xml", ('<?xml version="1.0"?>\n<opencv_storage><cascade><stageType>BOOST</stageType>'
                                        '</cascade></opencv_storage>\n'))):
        (tmp_path / name).write_text(text)
        with pytest.raises(InvalidValue, match="not a cascade OpenCV can read"):
            Detector(tmp_path / name)
    with pytest.raises(InvalidValue, match="at least 24 px"):
        Detector(CAT_CASCADE, size=16)
    with pytest.raises(InvalidValue, match="above 1"):
        Detector(CAT_CASCADE, scale_factor=1.0)


def test_missing_or_cascadeless_opencv_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # `import cv2` raises ImportError
    with pytest.raises(UserError, match="pip install opencv-python-headless$"):
        Detector(CAT_CASCADE)
    monkeypatch.setitem(sys.modules, "cv2", types.SimpleNamespace(__version__="5.1.0"))
    with pytest.raises(UserError, match="opencv-python-headless<5"):
        detector_module.import_cv2()


def image_folder(path, images):
    path.mkdir()
    for i, image in enumerate(images):
        save_png(image, path / f"{i:03d}.png")
    return path


def run_json(argv, capsys):
    capsys.readouterr()
    returned = evaluate.main(argv + ["--detector", CAT_CASCADE, "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert printed == returned
    return printed


def test_cli_folders_and_generator_against_real(cats, detector, tmp_path, capsys):
    cat_folder = image_folder(tmp_path / "cats", cats)
    blank_folder = image_folder(tmp_path / "blank", blanks(8))
    expected = detector(cats).mean()
    result = run_json(["--folders", str(blank_folder), str(cat_folder)], capsys)
    assert result["detected_a"] == 0.0 and result["detected_b"] == pytest.approx(expected)
    assert (result["images_a"], result["images_b"], result["image_size"]) == (8, NUM_CATS, 64)
    assert result["detector"].startswith("haarcascade_frontalcatface.xml at 128 px")

    # An untrained generator draws no cat faces; the real side is --data-dir, read at its size.
    from kerasgan.export import export_generator
    from kerasgan.nets.dcgan import build_generator

    export_generator(build_generator(64, noise_dim=8, width=4), tmp_path / "exports", "tiny")
    result = run_json(["--model", str(tmp_path / "exports" / "tiny"), "--data-dir", str(cat_folder),
                       "--num-samples", "6"], capsys)
    assert result["detected_generated"] == 0.0 and result["detected_real"] == pytest.approx(expected)
    assert (result["generated_images"], result["real_images"], result["image_size"]) == (6, NUM_CATS, 64)


@pytest.mark.parametrize("argv, error, message", [
    (["--folders", ".", ".", "--detector", "absent.xml"], MissingPath, "cascade file not found"),
    (["--x2y", ".", "--x-dir", ".", "--y-dir", ".", "--detector", CAT_CASCADE], UserError,
     "--detector scores --model, --run or --folders"),
])
def test_cli_errors(argv, error, message, monkeypatch):
    monkeypatch.setattr(evaluate, "resolve_export", lambda path, flag="--model": path)  # no export needed
    with pytest.raises(error, match=message):
        evaluate.main(argv)
