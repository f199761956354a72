import time
import warnings

import numpy as np
import pytest
from PIL import Image

from kerasgan.augment.preprocess import basic, deluxe
from kerasgan.data import tfds as tfds_source
from kerasgan.data import folder as folder_source
from kerasgan.data.folder import load_folder, read_rgb
from kerasgan.data.pipeline import make_dataset
from kerasgan.data.shapes import SHAPES, make_shape_domains, make_shapes
from kerasgan.data.domains import load_domains
from kerasgan.data.sources import load_image_set
from kerasgan.errors import UserError


def test_shapes_are_deterministic_and_labelled():
    a, labels = make_shapes(16, 32, seed=3)
    b, _ = make_shapes(16, 32, seed=3)
    c, _ = make_shapes(16, 32, seed=4)
    assert a.shape == (16, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert set(labels) == {"shape", "color"}
    assert labels["shape"].max() < len(SHAPES)


def test_shape_domains_differ_in_colour():
    red, blue = make_shape_domains(32, 32, seed=0)
    # The shapes' fill dominates the red (resp. blue) channel on average.
    assert (red[..., 0].astype(int) - red[..., 2]).mean() > (blue[..., 0].astype(int) - blue[..., 2]).mean() + 10


def write_images(folder):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(folder / "rgb.png")
    Image.fromarray(rng.integers(0, 255, (20, 20), dtype=np.uint8)).save(folder / "grey.jpg")
    Image.fromarray(rng.integers(0, 255, (20, 20, 4), dtype=np.uint8), "RGBA").save(folder / "alpha.png")
    (folder / "sub").mkdir()
    Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).convert("P").save(folder / "sub" / "p.png")


def test_folder_converts_every_mode_to_rgb_recursively(tmp_path):
    write_images(tmp_path)
    images = load_folder(tmp_path, 16)
    assert images.shape == (4, 16, 16, 3) and images.dtype == np.uint8


def test_corrupt_files_are_skipped_and_reported_once(tmp_path):
    write_images(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "grey.jpg").read_bytes()[:40])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images = load_folder(tmp_path, 16)
    assert len(images) == 4
    assert len(caught) == 1 and "skipped 2 unreadable" in str(caught[0].message)


GREY16 = np.array([[0, 257, 32768, 65535], [1000, 20000, 40000, 60000]] * 2, np.uint16)
GREY16_AS_8 = np.array([[0, 1, 128, 255], [4, 78, 156, 233]] * 2, np.uint8)  # round(v / 257)


def test_16_bit_greyscale_pngs_keep_their_values(tmp_path):
    # 16-bit greyscale PNGs open as mode I;16 (I;16B, I on other Pillows); converting those
    # to RGB clips every value above 255 to white.
    Image.frombytes("I;16", (4, 4), GREY16.astype("<u2").tobytes()).save(tmp_path / "grey16.png")
    want = np.stack([GREY16_AS_8] * 3, -1)
    np.testing.assert_array_equal(read_rgb(tmp_path / "grey16.png"), want)
    np.testing.assert_array_equal(load_folder(tmp_path, 4)[0], want)


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I"])
def test_every_16_bit_greyscale_mode_scales_to_8_bits(mode):
    if mode == "I":
        image = Image.fromarray(GREY16.astype(np.int32))
    else:
        image = Image.frombytes(mode, (4, 4), GREY16.astype("<u2" if mode == "I;16" else ">u2").tobytes())
    assert image.mode == mode
    np.testing.assert_array_equal(np.asarray(folder_source._rgb(image)), np.stack([GREY16_AS_8] * 3, -1))


def write_numbered(folder, count, start=0):
    """count 4x4 images, each one grey level: file 03.png is level 10 * 3 (+ 10 * start)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(np.full((4, 4, 3), 10 * (start + i), np.uint8)).save(folder / f"{start + i:02d}.png")
    return folder


def levels(images):
    return [int(image[0, 0, 0]) // 10 for image in images]


def test_num_images_caps_a_folder_with_an_even_spread(tmp_path):
    folder = write_numbered(tmp_path / "faces", 10)
    assert levels(load_image_set(None, folder, 4, num_images=4).images) == [0, 2, 5, 7]
    assert levels(load_image_set(None, folder, 4, num_images=4).images) == [0, 2, 5, 7]  # every time
    assert levels(load_image_set(None, folder, 4, num_images=4, seed=9).images) == [0, 2, 5, 7]  # any seed
    assert len(load_image_set(None, folder, 4, num_images=50).images) == 10  # more than there are: all
    assert len(load_image_set(None, folder, 4).images) == 10


def test_num_images_caps_the_course_layouts(tmp_path):
    write_numbered(tmp_path / "cat" / "grumpifyBprocessed", 6)
    write_numbered(tmp_path / "cat" / "grumpifyAprocessed", 9, start=10)
    assert levels(load_image_set("grumpifycat", tmp_path, 4, num_images=3).images) == [0, 2, 4]
    pair = load_domains("grumpifycat", data_dir=tmp_path, image_size=4, num_images=3, num_test=2)
    assert levels(pair.x) == [10, 13, 16] and levels(pair.y) == [0, 2, 4]
    assert levels(pair.x_test) == [10, 13] and pair.epoch_size == 3
    whole = load_domains("grumpifycat", data_dir=tmp_path, image_size=4, num_test=2)
    assert (len(whole.x), len(whole.y)) == (9, 6)


def test_num_images_caps_each_cyclegan_folder(tmp_path):
    x = write_numbered(tmp_path / "x", 8)
    y = write_numbered(tmp_path / "y", 2, start=20)
    pair = load_domains(x_dir=x, y_dir=y, image_size=4, num_images=4, num_test=1)
    assert levels(pair.x) == [0, 2, 4, 6] and levels(pair.y) == [20, 21]


def test_missing_empty_and_unreadable_folders_are_clear_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_folder(tmp_path / "nope", 16)
    with pytest.raises(UserError, match="no images"):
        load_folder(tmp_path, 16)
    (tmp_path / "bad.png").write_bytes(b"junk")
    with pytest.raises(UserError, match="could be read"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_folder(tmp_path, 16)


def test_basic_and_deluxe_preprocessing():
    import tensorflow as tf

    image = tf.constant(make_shapes(1, 32)[0][0])
    plain = basic(image, 32).numpy()
    assert plain.shape == (32, 32, 3) and plain.min() >= -1 and plain.max() <= 1
    np.testing.assert_allclose(plain, image.numpy() / 127.5 - 1, atol=1e-6)
    seeds = [tf.constant([0, i], tf.int64) for i in range(8)]
    augmented = [deluxe(image, 32, s).numpy() for s in seeds]
    assert all(a.shape == (32, 32, 3) and a.min() >= -1 and a.max() <= 1 for a in augmented)
    assert len({a.tobytes() for a in augmented}) > 1  # random crops and flips differ
    np.testing.assert_array_equal(deluxe(image, 32, seeds[0]).numpy(), augmented[0])  # stateless


def test_pipeline_resumes_exactly_where_it_stopped():
    images, _ = make_shapes(20, 16, seed=0)
    full = list(make_dataset(images, 16, 6, "deluxe", seed=1).take(7).as_numpy_iterator())
    resumed = list(make_dataset(images, 16, 6, "deluxe", seed=1, start_step=4).take(3).as_numpy_iterator())
    for a, b in zip(full[4:], resumed):
        np.testing.assert_array_equal(a, b)
    assert full[0].shape == (6, 16, 16, 3)


def test_pipeline_visits_every_image_once_per_epoch_and_reshuffles():
    images = np.arange(12, dtype=np.uint8).reshape(12, 1, 1, 1) * np.ones((1, 4, 4, 3), np.uint8)
    batches = list(make_dataset(images, 4, 4, seed=0).take(6).as_numpy_iterator())
    ids = [int(round((b[0, 0, 0] + 1) * 127.5)) for batch in batches for b in batch]
    assert sorted(ids[:12]) == list(range(12)) and sorted(ids[12:]) == list(range(12))
    assert ids[:12] != ids[12:]


def test_pipeline_yields_labels_alongside_images():
    images, labels = make_shapes(8, 16)
    x, y = next(iter(make_dataset(images, 16, 4, labels=labels)))
    assert x.shape == (4, 16, 16, 3) and set(y) == {"shape", "color"} and y["shape"].shape == (4,)


def test_offline_tfds_fails_fast_with_a_way_out(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_source, "_online", lambda timeout=5.0: False)
    started = time.time()
    with pytest.raises(UserError, match="--data-dir"):
        load_image_set("mnist", str(tmp_path), 32)
    assert time.time() - started < 30


def test_unknown_tfds_name_and_missing_course_root(tmp_path):
    with pytest.raises(UserError, match="no dataset"):
        load_image_set("no_such_dataset_xyz", None, 32)
    with pytest.raises(UserError, match="needs --data-dir"):
        load_image_set("grumpifycat", None, 32)
    with pytest.raises(UserError, match="not found"):
        load_image_set("grumpifycat", str(tmp_path), 32)
