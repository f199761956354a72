"""Streamed data (#43): folders and prepared zips decoded as training reads them, the same
batches whichever cache holds the images, unreadable files replaced, exact resume."""

import numpy as np
import pytest
from PIL import Image

from kerasgan.commands import prepare
from kerasgan.commands import train_gan as train_dcgan
from kerasgan.data import sources
from kerasgan.data.cache import cached
from kerasgan.data.folder import load_folder
from kerasgan.data.pipeline import make_dataset
from kerasgan.data.sources import folder_source, load_image_set, source_with_channels
from kerasgan.errors import UserError
from kerasgan.metrics.stats_cache import real_statistics
from kerasgan.recipes import gan as gan_recipe
from kerasgan.recipes.gan import GAN
from kerasgan.runs import checkpoint_info


def odd_folder(root, count=12):
    """`count` images of varied sizes and modes: RGB, grey, RGBA, palette, 16-bit grey."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        kind = i % 5
        if kind == 0:
            image = Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
        elif kind == 1:
            image = Image.fromarray(rng.integers(0, 255, (20, 24), dtype=np.uint8))
        elif kind == 2:
            image = Image.fromarray(rng.integers(0, 255, (20, 20, 4), dtype=np.uint8), "RGBA")
        elif kind == 3:
            image = Image.fromarray(rng.integers(0, 255, (18, 20, 3), dtype=np.uint8)).convert("P")
        else:
            image = Image.frombytes("I;16", (16, 16), rng.integers(0, 65535, (16, 16)).astype("<u2").tobytes())
        image.save(root / f"{i:02d}.png")
    return root


def batches(data, count=4, **options):
    return list(make_dataset(data, 16, 5, "deluxe", seed=3, start_step=1, **options).take(count).as_numpy_iterator())


def test_every_cache_and_a_prepared_zip_give_the_decoded_folder_s_batches(tmp_path):
    folder = odd_folder(tmp_path / "odd")
    streamed = folder_source(folder, 16)
    # The stream decodes each file as load_folder always has (Pillow: modes, alpha, 16-bit grey).
    np.testing.assert_array_equal(np.stack([streamed[i] for i in range(len(streamed))]), load_folder(folder, 16))
    want = batches(streamed)
    assert streamed.in_memory is None and len(want) == 4
    memory, line = cached(streamed, "memory")
    assert "into memory" in line
    disk, line = cached(streamed, "disk", tmp_path / "cache")
    assert "disk cache" in line and len(list((tmp_path / "cache").glob("*.u8"))) == 1
    prepare.main(["--data-dir", str(folder), "--image-size", "16", "--out", str(tmp_path / "odd.zip")])
    packed = load_image_set(None, tmp_path / "odd.zip", 16)
    for other in (memory, disk, packed, cached(streamed, "disk", tmp_path / "cache")[0]):  # the last: reused
        for a, b in zip(want, batches(other)):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(UserError, match="never overwritten"):
        prepare.main(["--data-dir", str(folder), "--image-size", "16", "--out", str(tmp_path / "odd.zip")])


def test_auto_keeps_small_sets_in_memory_and_streams_large_ones(tmp_path, monkeypatch):
    from kerasgan.data import cache

    source = folder_source(odd_folder(tmp_path / "odd", 5), 16)  # 5 x 16 x 16 x 3 = 3840 bytes
    assert cache.choose(source, "auto") == "memory"
    monkeypatch.setattr(cache, "MEMORY_LIMIT", 3839)
    assert cache.choose(source, "auto") == "none"
    assert cache.choose(source, "memory") == "memory"


def numbered(folder, count, colour_at=()):
    """Grey 4x4 PNGs, file i at level 10 * i; colour ones (level in R only) at `colour_at`."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        pixels = np.full((4, 4, 3), 10 * i, np.uint8)
        if i in colour_at:
            pixels[..., 1:] = 0
        Image.fromarray(pixels).save(folder / f"{i:02d}.png")
    return folder


def test_unreadable_files_are_replaced_by_the_next_readable_one_and_counted(tmp_path):
    import warnings

    folder = numbered(tmp_path / "n", 8)
    (folder / "02.png").write_bytes(b"junk")
    (folder / "03.png").write_bytes((folder / "04.png").read_bytes()[:30])  # cut short
    source = load_image_set(None, folder, 4, with_labels=False)
    source.labels = {"level": np.arange(8, dtype=np.int32)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        levels = [int(source[i][0, 0, 0]) // 10 for i in range(8)]
    assert levels == [0, 1, 4, 4, 4, 5, 6, 7]
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2, messages
    assert messages[0].startswith(f"skipped 1 unreadable image file(s) in {folder} (first: 02.png: ")
    assert messages[1].startswith(f"skipped 2 unreadable image file(s) in {folder} (latest: 03.png: ")
    # The labels follow the image that took the place: in memory and streamed alike.
    _, labels = next(iter(make_dataset(source, 4, 8, labels=source.labels)))
    images, memory_labels = next(iter(make_dataset(source.load_all(), 4, 8, labels=source.load_all().labels)))
    np.testing.assert_array_equal(labels["level"], memory_labels["level"])
    np.testing.assert_array_equal(np.round((images.numpy()[:, 0, 0, 0] + 1) * 127.5) // 10, labels["level"])


def test_a_folder_whose_files_all_fail_mid_run_ends_in_one_line(tmp_path):
    folder = tmp_path / "gone"
    folder.mkdir()
    for i in range(8):
        (folder / f"{i}.png").write_bytes(b"not an image")
    gan = GAN(model="dcgan", image_size=16, width=4, noise_dim=8, batch_size=4, channels=3, cache="none",
              verbose=0, no_export=True)
    # Nothing is decoded before training (channels given, --cache none): the input pipeline meets them.
    with pytest.raises(UserError, match="none of 8 files in a row .* could be read") as error:
        gan.fit(folder, steps=2, runs_dir=tmp_path / "runs")
    assert "\n" not in str(error.value) and "kerasgan:" not in str(error.value)


def test_greyscale_is_decided_from_an_even_sample_of_a_streamed_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "CHANNEL_SAMPLE", 4)  # spread(range(10), 4) reads files 0, 2, 5 and 7
    hidden = folder_source(numbered(tmp_path / "a", 10, colour_at=(3,)), 4)
    hidden, channels = source_with_channels(hidden)
    assert channels == 1 and hidden[3].shape == (4, 4, 1)
    assert hidden[3][0, 0, 0] == round(0.299 * 30) and hidden[4][0, 0, 0] == 40  # luma; grey kept
    seen = folder_source(numbered(tmp_path / "b", 10, colour_at=(5,)), 4)
    assert source_with_channels(seen)[1] == 3 and seen[5].shape == (4, 4, 3)


def test_real_statistics_stream_a_folder_batch_by_batch(tmp_path):
    from test_fid_callback import ColourFeatures

    folder = odd_folder(tmp_path / "odd", 7)

    class Batches(ColourFeatures):
        sizes = []

        def __call__(self, images):
            self.sizes.append(len(images))
            return super().__call__(images)

    source = folder_source(folder, 16)
    source.batches = lambda size, indices=None, description=None: sources.Source.batches(source, 3, indices)  # small
    streamed = real_statistics(source, Batches(), cache_dir=tmp_path / "stats")
    assert Batches.sizes == [3, 3, 1] and not streamed["cached"]
    whole = real_statistics(load_folder(folder, 16), ColourFeatures(), cache_dir=tmp_path / "stats")
    np.testing.assert_allclose(streamed["mu"], whole["mu"], rtol=1e-12)
    np.testing.assert_allclose(streamed["sigma"], whole["sigma"], rtol=1e-9, atol=1e-15)
    again = real_statistics(folder_source(folder, 16), Batches(), cache_dir=tmp_path / "stats")
    assert again["cached"] and Batches.sizes == [3, 3, 1]  # keyed by the files: nothing decoded


def test_a_streamed_folder_resumes_to_bit_identical_weights(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(28):  # 3 steps an epoch at batch 8: the split (step 4) is inside epoch 2
        Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(folder / f"{i:02d}.jpg")
    common = ["--data-dir", str(folder), "--image-size", "16", "--width", "4", "--noise-dim", "8", "--batch-size",
              "8", "--runs-dir", str(tmp_path / "runs"), "--no-export", "--verbose", "0", "--data-preprocess",
              "deluxe", "--diffaug", "translation", "--ema", "0.999", "--cache", "none"]
    straight = train_dcgan.main(common + ["--steps", "7", "--name", "straight"])
    train_dcgan.main(common + ["--steps", "4", "--name", "split"])
    # Resumed with the images in memory: the cache does not change the run (nor its batches).
    resumed = train_dcgan.main(common + ["--steps", "7", "--name", "split", "--resume", "--cache", "memory"])
    assert checkpoint_info(resumed.checkpoint_path())["step"] == checkpoint_info(straight.checkpoint_path())["step"] == 7

    def weights(run):
        config = train_dcgan.config_from_flags(common + ["--channels", "3"])
        trainer = gan_recipe.build_trainer(config)
        trainer.compile(*gan_recipe.build_optimizers(config, 7))
        trainer.load_weights(run.checkpoint_path())
        return [w.numpy() for net in (trainer.generator, trainer.discriminator, trainer.ema_generator)
                for w in net.weights]

    for x, y in zip(weights(straight), weights(resumed)):
        np.testing.assert_array_equal(x, y)


def test_a_tfds_split_too_large_for_memory_is_written_once_as_a_zip_and_streamed(tmp_path, monkeypatch):
    from kerasgan.data import tfds as tfds_source

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (10, 8, 8, 3), dtype=np.uint8)
    labels = np.arange(10, dtype=np.int32) % 3
    reads = []

    def fake_batches(name, split, size, data_dir=None, label_keys=(), max_images=None, **options):
        reads.append(name)
        for start in (0, 6):
            yield images[start:start + 6], {k: labels[start:start + 6] for k in label_keys}

    monkeypatch.setenv("KERASGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(tfds_source, "tfds_batches", fake_batches)
    monkeypatch.setattr(sources, "tfds_builder", lambda name, data_dir=None: None)
    monkeypatch.setattr(sources, "tfds_label_names", lambda builder, keys: {k: list("abc") for k in keys})
    monkeypatch.setattr(sources, "_too_large_for_memory", lambda *args: True)
    for _ in range(2):  # the second time from the zip already written
        data = load_image_set("big_faces", None, 8, with_labels=True)
        assert data.in_memory is None and data.name == "big_faces" and data.label_names == {"label": list("abc")}
        np.testing.assert_array_equal(data.load_all().images, images)
        np.testing.assert_array_equal(data.labels["label"], labels)
    assert reads == ["big_faces"]


def test_at_exit_reads_stop_decoding_and_the_pipelines_settle(monkeypatch):
    """An iterator destroyed during interpreter finalization waits for its in-flight decode
    calls, which can never get the GIL: a script ending with a live iterator hung at exit 2
    times in 4 (benchmarks, 1,000 JPEGs). The atexit hook stops decoding until no call is in
    flight (with it: 7 exits in 7)."""
    import time

    from kerasgan.data import pipeline
    from kerasgan.data.sources import Streamed

    class Counting(Streamed):
        name, image_size, labels, label_names, calls = "counting", 8, {}, {}, 0

        def __len__(self):
            return 64

        def decode(self, index):
            Counting.calls += 1
            return np.full((8, 8, 3), index, np.uint8)

    iterator = iter(make_dataset(Counting(), 8, 4))
    next(iterator)
    monkeypatch.setattr(pipeline, "_exiting", False)  # restored after the test
    started = time.monotonic()
    pipeline._let_pipelines_settle(quiet=0.2, limit=10.0)
    assert time.monotonic() - started < 5.0  # settled once the buffers were full, not at the limit
    decoded = Counting.calls
    for _ in range(3):
        next(iterator)  # what is still read after the hook is never decoded
    assert Counting.calls == decoded
