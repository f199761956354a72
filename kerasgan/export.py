"""Generators as SavedModels in TF Serving's layout: exports/<model name>/<version>/.

Only the generator is exported, never the training wrapper. Versions are integers; a new
export takes the next free one and never overwrites an existing version. Each version holds
`assets.extra/kerasgan.json` (what was exported, from which run), and `exports/models.config`
lists every model for TF Serving's `--model_config_file`.
"""

import errno
import functools
import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path

import keras
import tensorflow as tf

from kerasgan.errors import MissingPath, UserError
from kerasgan.nets.winograd import conv_algorithm


TMP_PREFIX = ".tmp-"  # exports being written: never an integer name, so never a version
STALE_SECONDS = 3600  # a temporary folder this old is a killed export's leftover


def next_version(model_dir):
    """1 for a new model, else one more than the highest existing integer version.

    Temporary `.tmp-*` folders (exports in progress, or killed) are not versions."""
    model_dir = Path(model_dir)
    versions = [int(p.name) for p in model_dir.glob("*") if _is_version(p)]
    return max(versions, default=0) + 1


def _is_version(path):
    return path.name.isdigit() and path.is_dir()


def _uint8_images(images):
    """float [-1, 1] -> uint8 [B, H, W, 3], rounded, inside the serving graph.

    A greyscale generator's one channel is repeated: every export serves RGB `images`, so
    clients, `generate` and `evaluate` read any model's output the same way.
    """
    images = tf.cast(tf.clip_by_value(tf.round((tf.cast(images, tf.float32) + 1.0) * 127.5), 0, 255), tf.uint8)
    if images.shape[-1] == 1:
        images = tf.repeat(images, 3, axis=-1)
    return images


def _seed_pair(seed):
    return tf.stack([seed, tf.constant(0, tf.int64)])


def _draw_noise(batch_size, noise_dim, seed, latent):
    """In-graph noise for `generate` signatures, from the training prior."""
    shape = tf.stack([batch_size, noise_dim])
    if latent == "uniform":
        return tf.random.stateless_uniform(shape, _seed_pair(seed), minval=-1.0, maxval=1.0)
    return tf.random.stateless_normal(shape, seed=_seed_pair(seed))


def _write(archive, export_root, name, metadata, version):
    """Writes the SavedModel and assets.extra/kerasgan.json into a temporary folder beside
    the versions, then renames it to the first free integer version: a version appears
    whole or not at all, and exports racing each other take distinct versions."""
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", name):
        raise UserError(f"model name {name!r} may only hold letters, digits, '.', '_' and '-', "
                        f"and may not start with '.'")
    model_dir = Path(export_root) / name
    if version and (model_dir / str(version)).exists():
        raise UserError(f"{model_dir / str(version)} already exists: versions are never overwritten")
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(model_dir)
        tmp = model_dir / f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        os.mkdir(tmp)  # not tempfile.mkdtemp: its 0700 would hide the version from TF Serving's user
    except OSError as error:
        raise UserError(f"cannot write the export under {model_dir}: {error.strerror or error}") from None
    try:
        archive.write_out(str(tmp), verbose=False)
        path = _claim_version(tmp, model_dir, name, metadata, version)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_models_config(export_root)
    return path


def _claim_version(tmp, model_dir, name, metadata, version):
    """Renames the finished `tmp` to model_dir/<version> (the next free one unless given)."""
    wanted = version
    version = version or next_version(model_dir)
    extra = tmp / "assets.extra"
    extra.mkdir(exist_ok=True)
    while True:
        (extra / "kerasgan.json").write_text(json.dumps({"name": name, "version": version, **(metadata or {})},
                                                        indent=2, default=str))
        path = model_dir / str(version)
        try:
            os.rename(tmp, path)  # fails while `path` holds anything: another export's claim
            return path
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                raise UserError(f"cannot write the export {path}: {error.strerror or error}") from None
            if wanted:
                raise UserError(f"{path} already exists: versions are never overwritten") from None
            version = max(version + 1, next_version(model_dir))


def _remove_stale_temps(model_dir):
    """Removes temporary folders left by killed exports: those whose writing process (the pid
    in the name) is gone, and any over an hour old (the pid may have been reused)."""
    for path in model_dir.glob(TMP_PREFIX + "*"):
        try:
            if not _writer_alive(path) or time.time() - path.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass  # removed meanwhile by another export


def _writer_alive(tmp):
    """Whether the process that named `tmp` (.tmp-<pid>-<random>) still runs on this machine."""
    try:
        pid = int(tmp.name[len(TMP_PREFIX):].split("-")[0])
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError, OSError):
        return True  # not our naming, or another user's process: leave it to the age rule
    return True


def check_writable(export_root):
    """Fails now, in one line, where an export at the end of training could not be written."""
    root = Path(export_root).expanduser().absolute()
    made = root  # the first folder this check creates, removed again after it
    while not made.parent.exists():
        made = made.parent
    made = made if not made.exists() else None
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f"{TMP_PREFIX}{os.getpid()}-probe"
        probe.mkdir()
        probe.rmdir()
        if made is not None:
            shutil.rmtree(made)
    except OSError as error:
        raise UserError(f"cannot write exports to {root} ({error.strerror or error}): choose a writable "
                        "--exports-dir, or add --no-export") from None


def _portable(export):
    """Traces the serving graph with plain convolutions: the server's own device picks the
    fastest algorithm (cuDNN on a GPU), whatever sped up training here (nets.winograd)."""
    @functools.wraps(export)
    def traced_direct(*args, **kwargs):
        with conv_algorithm("direct"):
            return export(*args, **kwargs)
    return traced_direct


@_portable
def export_generator(generator, export_root, name, metadata=None, version=None, latent="normal"):
    """Exports noise -> uint8 images. Signatures:

    - `serving_default`: `noise` float32 [batch, noise_dim] -> `images` uint8 [batch, H, W, 3]
    - `generate`: `batch_size` int32 and `seed` int64 scalars -> `images`, the noise drawn
      in-graph from the training prior (`latent`: normal or uniform(-1, 1))
    """
    noise_dim = generator.input_shape[-1]
    archive = keras.export.ExportArchive()
    archive.track(generator)

    def from_noise(noise):
        return {"images": _uint8_images(generator(noise, training=False))}

    def generate(batch_size, seed):
        return from_noise(_draw_noise(batch_size, noise_dim, seed, latent))

    archive.add_endpoint("serving_default", from_noise,
                         [tf.TensorSpec([None, noise_dim], tf.float32, name="noise")])
    archive.add_endpoint("generate", generate, [tf.TensorSpec([], tf.int32, name="batch_size"),
                                                tf.TensorSpec([], tf.int64, name="seed")])
    return _write(archive, export_root, name, {"kind": "generator", "noise_dim": noise_dim, "latent": latent, **(metadata or {})},
                  version)


@_portable
def export_conditional_generator(generator, export_root, name, label_names, metadata=None, version=None,
                                 latent="normal"):
    """Exports a generator with named inputs (conditional GANs, InfoGAN). Signatures:

    - `serving_default`: `noise` float32 [batch, noise_dim], one int32 [batch] input per
      attribute, named after it (ids index `label_names[attribute]`), and, for InfoGAN,
      `continuous` float32 [batch, n] -> `images` uint8 [batch, H, W, 3]
    - `generate`: `batch_size` int32, `seed` int64 and one int32 scalar per attribute (the
      same labels for the whole batch) -> `images`; the noise is drawn in-graph from the
      training prior (`latent`), continuous codes from U(-1, 1)

    `label_names` ({attribute: [class names]}) is stored in assets.extra/kerasgan.json.
    """
    specs = {t.name: tf.TensorSpec([None, *t.shape[1:]], t.dtype, name=t.name) for t in generator.inputs}
    missing = set(label_names) - set(specs)
    if "noise" not in specs or missing:
        raise ValueError(f"generator inputs {sorted(specs)} need `noise` and every attribute of {sorted(label_names)}")
    noise_dim = specs["noise"].shape[-1]
    archive = keras.export.ExportArchive()
    archive.track(generator)

    def from_inputs(inputs):
        return {"images": _uint8_images(generator(inputs, training=False))}

    def generate(inputs):
        batch_size = inputs["batch_size"]
        noise = _draw_noise(batch_size, noise_dim, inputs["seed"], latent)
        feed = {"noise": noise, **{a: tf.fill([batch_size], inputs[a]) for a in label_names}}
        if "continuous" in specs:
            codes_shape = tf.stack([batch_size, specs["continuous"].shape[-1]])
            codes_seed = _seed_pair(inputs["seed"]) + 1  # apart from the noise's seed
            feed["continuous"] = tf.random.stateless_uniform(codes_shape, codes_seed, minval=-1.0, maxval=1.0)
        return from_inputs(feed)

    archive.add_endpoint("serving_default", from_inputs, [specs])
    scalars = {"batch_size": tf.TensorSpec([], tf.int32, name="batch_size"),
               "seed": tf.TensorSpec([], tf.int64, name="seed"),
               **{a: tf.TensorSpec([], tf.int32, name=a) for a in label_names}}
    archive.add_endpoint("generate", generate, [scalars])
    info = {"kind": "conditional_generator", "noise_dim": noise_dim, "latent": latent,
            "label_names": {a: list(n) for a, n in label_names.items()}, **(metadata or {})}
    return _write(archive, export_root, name, info, version)


@_portable
def export_translator(generator, export_root, name, image_size, metadata=None, version=None):
    """Exports an image-to-image generator. Signatures:

    - `serving_default`: `images` uint8 [batch, H, W, 3] -> `images` uint8 [batch, H, W, 3]
    - `translate_encoded`: `images` string [batch] of encoded JPEG/PNG/BMP/GIF (what a REST
      client sends as base64) -> `images` string [batch] of encoded PNG, each at its own size

    Sizes the fully convolutional network accepts (multiples of 4) run as they are; other
    sizes are resized to `image_size` for the network and the result resized back.
    """
    archive = keras.export.ExportArchive()
    archive.track(generator)

    def translate(images):
        x = tf.cast(images, tf.float32) / 127.5 - 1.0
        height, width = tf.shape(x)[1], tf.shape(x)[2]
        fits = tf.logical_and(height % 4 == 0, width % 4 == 0)
        out = tf.cond(
            fits,
            lambda: generator(x, training=False),
            lambda: tf.image.resize(
                generator(tf.image.resize(x, (image_size, image_size), antialias=True), training=False),
                (height, width),
            ),
        )
        return {"images": _uint8_images(out)}

    def translate_one_encoded(data):
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        return tf.io.encode_png(translate(image[None])["images"][0])

    def translate_encoded(images):
        return {"images": tf.map_fn(translate_one_encoded, images, fn_output_signature=tf.string)}

    archive.add_endpoint("serving_default", translate,
                         [tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    archive.add_endpoint("translate_encoded", translate_encoded, [tf.TensorSpec([None], tf.string, name="images")])
    return _write(archive, export_root, name,
                  {"kind": "translator", "image_size": image_size, **(metadata or {})}, version)


@_portable
def export_diffusion_sampler(network, export_root, name, alpha_bar, prediction="eps", default_steps=50,
                             metadata=None, version=None):
    """Exports a diffusion model's DDIM sampler, every step inside the graph. Signatures:

    - `serving_default`: `noise` float32 [batch, H, W, 3] (the starting x_T, N(0, 1)) ->
      `images` uint8 [batch, H, W, 3], in `default_steps` deterministic DDIM steps: what
      `kerasgan generate`, `evaluate` and `load_export` call, as they call a GAN's
    - `generate`: `batch_size` int32, `seed` int64 and `steps` int32 scalars -> `images`;
      the noise is drawn in-graph and the sampler runs `steps` DDIM steps (a tf.while_loop)

    A request with steps < 1 or > T (the trained timesteps) or batch_size < 1 fails with
    InvalidArgumentError naming the bound. `network` ([x_t, t] -> eps or v) should be the
    EMA network; `alpha_bar` the schedule it was trained with ([T]).
    """
    from kerasgan.trainers.diffusion import ddim_sample

    timesteps = len(alpha_bar)
    shape = list(network.input[0].shape[1:])
    archive = keras.export.ExportArchive()
    archive.track(network)

    def denoise(x_t, t):
        return tf.cast(network([x_t, tf.cast(t, tf.float32)], training=False), tf.float32)

    def sample(noise, steps):
        return {"images": _uint8_images(ddim_sample(denoise, noise, alpha_bar, steps, prediction))}

    def from_noise(noise):
        return sample(noise, tf.constant(default_steps, tf.int32))

    def generate(batch_size, seed, steps):
        checks = [
            tf.debugging.assert_greater_equal(steps, 1, message="steps must be at least 1"),
            tf.debugging.assert_less_equal(steps, timesteps,
                                           message=f"steps must be at most the {timesteps} timesteps trained"),
            tf.debugging.assert_greater_equal(batch_size, 1, message="batch_size must be at least 1"),
        ]
        with tf.control_dependencies(checks):
            noise = tf.random.stateless_normal(tf.stack([batch_size, *shape]), seed=_seed_pair(seed))
            return sample(noise, tf.identity(steps))

    archive.add_endpoint("serving_default", from_noise, [tf.TensorSpec([None, *shape], tf.float32, name="noise")])
    archive.add_endpoint("generate", generate, [tf.TensorSpec([], tf.int32, name="batch_size"),
                                                tf.TensorSpec([], tf.int64, name="seed"),
                                                tf.TensorSpec([], tf.int32, name="steps")])
    info = {"kind": "diffusion_sampler", "latent": "normal", "noise_shape": shape, "timesteps": timesteps,
            "prediction": prediction, "default_steps": default_steps, **(metadata or {})}
    return _write(archive, export_root, name, info, version)


def write_models_config(export_root):
    """Regenerates export_root/models.config (TF Serving ModelServerConfig text proto).

    Paths are written as /models/<name>, where the `docker run` of docs/serving.md mounts exports/.
    The file is replaced atomically, never seen half-written, under a lock so that of
    two exports finishing together the later listing wins.
    """
    export_root = Path(export_root)
    with _locked(export_root / ".models.config.lock"):
        names = sorted(p.name for p in export_root.glob("*") if p.is_dir() and not p.name.startswith(".")
                       and any(_is_version(v) for v in p.iterdir()))
        entries = "".join(
            f'  config {{\n    name: "{n}"\n    base_path: "/models/{n}"\n    model_platform: "tensorflow"\n  }}\n'
            for n in names
        )
        path = export_root / "models.config"
        tmp = export_root / f".models.config.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            tmp.write_text(f"model_config_list {{\n{entries}}}\n")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


class _locked:
    """An exclusive flock on `path` (created if needed) for a `with` block; none where
    flock is unavailable (Windows, some network file systems)."""

    def __init__(self, path):
        self.path = path
        self.file = None

    def __enter__(self):
        try:
            import fcntl

            self.file = open(self.path, "a")
            fcntl.flock(self.file, fcntl.LOCK_EX)
        except (ImportError, OSError):
            if self.file is not None:
                self.file.close()
            self.file = None
        return self

    def __exit__(self, *exc):
        if self.file is not None:
            self.file.close()  # releases the lock


# -- reading exports back --------------------------------------------------------------------
# Diffusion samplers take `noise` [batch, H, W, 3] in serving_default: generate and evaluate
# draw it as they draw a GAN's noise.
GENERATOR_KINDS = ("generator", "conditional_generator", "diffusion_sampler")


def find_export(path):
    """exports/NAME (newest complete integer version) or exports/NAME/VERSION -> the version folder."""
    path = Path(path).expanduser()
    if (path / "saved_model.pb").is_file():
        return path
    if not path.is_dir():
        raise MissingPath(f"model directory not found: {path}")
    versions = sorted((int(p.name) for p in path.glob("*") if p.is_dir() and p.name.isdigit()), reverse=True)
    for version in versions:
        if (path / str(version) / "saved_model.pb").is_file():
            return path / str(version)
    raise UserError(f"no exported model in {path}: --model takes exports/NAME or exports/NAME/VERSION")


def read_metadata(version_dir):
    """assets.extra/kerasgan.json of an export ({} for SavedModels kerasgan did not write)."""
    path = Path(version_dir) / "assets.extra" / "kerasgan.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        raise UserError(f"{path} is damaged (not JSON): re-export the model") from None


def load_saved_model(version_dir):
    """`tf.saved_model.load`, with a damaged or foreign export as one UserError line."""
    version_dir = Path(version_dir)
    if not (version_dir / "variables").is_dir():
        raise UserError(f"{version_dir} is incomplete (no variables/ folder): re-export it, or use another "
                        "version")
    try:
        return tf.saved_model.load(str(version_dir))
    except Exception as error:  # a corrupt or foreign directory raises many error types
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserError(f"could not load the SavedModel in {version_dir} ({first_line[:200]}): re-export it, "
                        "or use another version") from None


if __name__ == "__main__":  # `python -m kerasgan.export`: the same as `kerasgan export`
    from kerasgan.commands.main import script

    script("export")
