"""Label accuracy: does a conditional generator draw what its labels ask for, attribute by attribute?

A small classifier (the *judge*: a few convs, one softmax head per attribute) is trained on
the real labelled images, with a held-back split it never trains on. Generated images are
then classified and compared with the labels they were generated for:

    accuracy(attr) = mean over samples of [judge_attr(G(z, y)) == y_attr]

reported beside the judge's accuracy on the held-back real images (its calibration: a
generator cannot be judged better than the judge reads real images) and chance (1 / classes).
An attribute a generator ignores scores near chance even when the others score near the
judge's real accuracy.

Beside it, the *within-label spread*: the mean distance between two images of the same label
combination, for the generated images (grouped by the labels they were drawn for) against
the real images (grouped by theirs). A generator that ignores its noise draws one image per
combination and scores 0 however right its labels are. Two distances: plain pixels (mean
absolute difference in [0, 1]) and the judge's last feature map (S/8 x S/8 x 64, before its
pooling), which differs where the images show different things rather than where a few
pixels moved; their ratios to the real images' spread are the numbers to read.

    judge = fit_label_judge(images, labels, label_names)          # uint8 [N, S, S, C], {attr: int [N]}
    scores = label_accuracy(labelled_sampler(generator, label_names), judge, num_samples=1024)

`evaluate --label-accuracy` prints it for a run or an export; `--label-accuracy-every N` logs
it to TensorBoard during training (LabelAccuracyCallback).
"""

import time

import numpy as np
import tensorflow as tf

from kerasgan.callbacks import StepCallback
from kerasgan.data.shapes_judge import classifier_features
from kerasgan.errors import UserError
from kerasgan.images import blur, to_classifier_input
from kerasgan.latent import draw_noise
from kerasgan.progress import fit_progress, log
from kerasgan.seeds import seeded

# Images larger than this are judged at this size (area averaging): the judge stays small.
MAX_JUDGE_SIZE = 64
# Training steps (batches of 64) of the judge: about 15-30 s at 32x32 on 2 busy CPU cores.
DEFAULT_JUDGE_STEPS = 500
# Real images the judge learns from at most, spread evenly over a larger set: its 500 steps
# see 32,000 images (copies included), and these stay in memory while it trains.
MAX_JUDGE_IMAGES = 10_000


def build_label_classifier(num_classes, size, channels=3):
    """image [S, S, C] in [0, 255] -> {attr: logits [classes]}: the shapes judge's trunk
    (which keeps small attributes through its max pooling) with one head per attribute."""
    import keras
    from keras import layers

    image = keras.Input((size, size, channels), name="image")
    x = classifier_features(image, first_filters=32)
    outputs = {name: layers.Dense(count, name=name)(x) for name, count in num_classes.items()}
    return keras.Model(image, outputs, name="label_judge")


def held_back_split(count, fraction, seed):
    """(train indices, held-back indices): a seeded permutation cut at `fraction`."""
    order = np.random.default_rng(seed).permutation(count)
    held = max(1, int(round(count * fraction)))
    return np.sort(order[held:]), np.sort(order[:held])


class LabelJudge:
    """A classifier of every attribute, trained on real images (see the module doc).

    `real_accuracy` ({attr: accuracy on the held-back real images}) is set by `fit`.
    """

    def __init__(self, label_names, image_size, channels=3, held_out=0.2, steps=None, batch_size=64, seed=0,
                 progress=False):
        if not label_names:
            raise UserError("label accuracy needs labels: this model is unconditional")
        self.label_names = {a: list(n) for a, n in label_names.items()}
        self.size = min(image_size, MAX_JUDGE_SIZE)
        self.channels = channels
        self.held_out = held_out
        self.steps = steps or DEFAULT_JUDGE_STEPS
        self.batch_size = batch_size
        self.seed = seed
        self.progress = progress
        self.model = None
        self.real_accuracy = None
        self.real_spread = None

    @property
    def chance(self):
        return {a: 1.0 / len(n) for a, n in self.label_names.items()}

    def fit(self, images, labels):
        """Trains on the real `images` (uint8 [N, S, S, C]) and `labels` ({attr: int [N]}) but a
        held-back share, on which it then measures `real_accuracy`."""
        import keras

        missing = [a for a in self.label_names if a not in labels]
        if missing:
            raise UserError(f"the real images have no {missing[0]!r} labels to train the label judge on")
        if len(images) < 10:
            raise UserError(f"label accuracy needs at least 10 labelled real images, got {len(images)}")
        train, held = held_back_split(len(images), self.held_out, self.seed)
        x = to_classifier_input(images, self.size)
        y = {a: np.asarray(labels[a], np.int32) for a in self.label_names}
        x_train = imperfect_copies(x[train], self.seed)
        y_train = {a: np.tile(v[train], 2) for a, v in y.items()}  # the copies keep their labels
        with seeded(20_000 + self.seed):
            model = build_label_classifier({a: len(n) for a, n in self.label_names.items()}, self.size,
                                           x.shape[-1])
        model.compile(optimizer=keras.optimizers.Adam(2e-3),
                      loss={a: keras.losses.SparseCategoricalCrossentropy(from_logits=True) for a in y},
                      jit_compile=False)
        batch = min(self.batch_size, len(train))
        # Shuffled by NumPy from the judge's seed, not by TensorFlow's global generator, so the
        # judge is the same whatever seeds the process has set.
        rng = np.random.default_rng(self.seed)
        passes = -(-self.steps * batch // len(x_train))
        order = np.concatenate([rng.permutation(len(x_train)) for _ in range(passes)])[:self.steps * batch]
        rows = tf.data.Dataset.from_tensor_slices(order).batch(batch).map(
            lambda i: (tf.gather(x_train, i), {a: tf.gather(v, i) for a, v in y_train.items()}))
        model.fit(rows, steps_per_epoch=self.steps, epochs=1, shuffle=False, verbose=0,
                  callbacks=[fit_progress(self.steps, "label judge", enabled=self.progress)])
        self.model = model
        self.real_accuracy = self.accuracy(np.asarray(images)[held], {a: v[held] for a, v in y.items()})
        self.real_spread = within_label_spread(x, y, self.features, seed=self.seed)
        return self

    def features(self, x):
        """The judge's last feature map, flattened: float [N, D] of classifier inputs `x`
        (to_classifier_input's float [N, S, S, C] in [0, 255])."""
        import keras

        if "_feature_model" not in self.__dict__:
            last_conv = [layer for layer in self.model.layers if isinstance(layer, keras.layers.Conv2D)][-1]
            self._feature_model = keras.Model(self.model.input, last_conv.output)
        return np.asarray(self._feature_model.predict(x, batch_size=256, verbose=0)).reshape(len(x), -1)

    def inputs(self, images):
        """The judge's inputs (float [N, S, S, C] in [0, 255], its channels) of uint8 or [-1, 1]
        float images."""
        x = to_classifier_input(images, self.size)
        if x.shape[-1] != self.channels:
            x = np.repeat(x, self.channels, axis=-1) if x.shape[-1] == 1 else x[..., :self.channels]
        return x

    def predict(self, images):
        """{attr: class ids [N]} of uint8 or [-1, 1] float images."""
        return self.predict_inputs(self.inputs(images))

    def predict_inputs(self, x):
        """{attr: class ids [N]} of the judge's inputs `x` (see `inputs`)."""
        if self.model is None:
            raise ValueError("fit the label judge first")
        out = self.model.predict(x, batch_size=256, verbose=0)
        return {a: np.argmax(np.asarray(out[a]), axis=-1) for a in self.label_names}

    def accuracy(self, images, labels):
        """{attr: share of `images` classified as their label}."""
        predicted = self.predict(images)
        return {a: float(np.mean(predicted[a] == np.asarray(labels[a]))) for a in self.label_names}


def imperfect_copies(images, seed=0):
    """float [N, S, S, C] in [0, 255] -> [2N, ...]: the images, then a copy of each blurred
    (Gaussian, sigma 0.5-1.5; 5 in 6) or with pixel noise (std 4-12), the labels unchanged.

    Generated images are rarely as crisp as real ones. Trained on crisp images only, the judge
    read visibly cyan dots on soft yellow shapes as white (#17: 44 of 255 cyan dots), so it
    also learns each attribute from imperfect copies, as the shapes judge's heads do.
    """
    rng = np.random.default_rng(10_000 + seed)
    copies = np.empty_like(images)
    sigmas = rng.choice([0.0, 0.5, 0.75, 1.0, 1.25, 1.5], size=len(images))  # 0: noise instead
    for sigma in np.unique(sigmas[sigmas > 0]):
        copies[sigmas == sigma] = blur(images[sigmas == sigma], sigma)
    noisy = images[sigmas == 0]
    copies[sigmas == 0] = noisy + rng.normal(size=noisy.shape) * rng.uniform(4, 12, (len(noisy), 1, 1, 1))
    return np.concatenate([images, np.clip(copies, 0, 255)]).astype(np.float32)


def judge_images(source, labels, limit=MAX_JUDGE_IMAGES):
    """(uint8 images, labels) of at most `limit` images of a source, spread evenly over it;
    `labels` {attr: int [N]} are indexed like the source (a replaced file brings its own)."""
    from kerasgan.data.folder import spread

    images, used = source.read_many(spread(range(len(source)), limit))
    return images, {a: np.asarray(v)[used] for a, v in labels.items()}


def fit_label_judge(images, labels, label_names, seed=0, **options):
    """A LabelJudge trained on real images (uint8 [N, S, S, C], or a source, of which at most
    MAX_JUDGE_IMAGES are read) and labels (options: held_out, steps, batch_size, progress)."""
    from kerasgan.data.source import Source

    if isinstance(images, Source):
        images, labels = judge_images(images, labels)
    images = np.asarray(images)
    return LabelJudge(label_names, images.shape[1], images.shape[-1], seed=seed, **options).fit(images, labels)


def labelled_sampler(generator, label_names, latent="normal"):
    """`sample(count, seed)` -> (images [count, S, S, C] in [-1, 1], {attr: ids [count]}) for a
    Keras generator {"noise", attr...}: labels uniform over each attribute's classes."""
    names = list(label_names)
    missing = [a for a in names if a not in {t.name for t in generator.inputs}]
    if missing:
        raise UserError(f"the generator has no {missing[0]!r} input: is the model conditional?")
    noise_dim = next(t.shape[-1] for t in generator.inputs if t.name == "noise")

    def sample(count, seed):
        rng = np.random.default_rng(seed)
        labels = {a: rng.integers(0, len(label_names[a]), count).astype(np.int32) for a in names}
        noise = draw_noise(rng, (count, noise_dim), latent)
        return np.asarray(generator({"noise": noise, **labels}, training=False)), labels

    return sample


def same_label_pairs(labels, pairs=2048, seed=0):
    """(first, second): index arrays of `pairs` pairs of distinct images with the same labels,
    from label combinations chosen uniformly (each counts alike, however many images it has);
    `labels` {attr: int [N]}. Combinations with one image are left out; none with two: None."""
    keys = np.stack([np.asarray(labels[a]) for a in sorted(labels)], axis=1)
    groups = {}
    for index, key in enumerate(map(tuple, keys)):
        groups.setdefault(key, []).append(index)
    groups = [members for members in groups.values() if len(members) > 1]
    if not groups:
        return None
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(groups[g], 2, replace=False) for g in rng.integers(0, len(groups), pairs)]
    return tuple(np.asarray(chosen).T)


def within_label_spread(x, labels, features, pairs=2048, seed=0):
    """{"pixel": ..., "features": ...}: the mean distance between two images with the same
    labels, over `pairs` pairs (`same_label_pairs`); None when no combination has two images.

    `x` are classifier inputs (float [N, S, S, C] in [0, 255]), `labels` {attr: int [N]},
    `features(x)` -> [N, D].
    """
    chosen = same_label_pairs(labels, pairs, seed)
    if chosen is None:
        return None
    pixel = np.abs(x[chosen[0]] - x[chosen[1]]).mean(axis=(1, 2, 3)) / 255.0
    f_first, f_second = paired_values(lambda used: features(x[used]), *chosen)
    return {"pixel": float(pixel.mean()), "features": float(np.abs(f_first - f_second).mean(axis=1).mean())}


def paired_values(values_of, first, second):
    """(values of `first`, values of `second`) from `values_of(indices)`, called once on the
    sorted distinct indices of both (an image in several pairs is read or featurised once)."""
    used = np.unique(np.concatenate([first, second]))
    values = values_of(used)
    return values[np.searchsorted(used, first)], values[np.searchsorted(used, second)]


def real_pair_distance(data, labels, pairs=512, seed=0):
    """The mean |a - b| over pixels, in the [-1, 1] units a generator draws in, of `pairs` pairs
    of real images with the same labels (a source's images are read, not all decoded): how far
    apart two images of one label set are in the data, the target of mode seeking. None when no
    label combination has two images."""
    chosen = same_label_pairs(labels, pairs, seed)
    if chosen is None:
        return None
    first, second = paired_values(lambda used: data.read_many(used)[0].astype(np.float32) / 127.5, *chosen)
    return float(np.abs(first - second).mean())


def judge_samples(sample, judge, num_samples=1024, batch_size=128, seed=0):
    """({attr: judge accuracy of generated images against their labels}, their within-label
    spread) over `num_samples` images from `sample(count, seed)` (see `labelled_sampler`)."""
    hits = {a: 0 for a in judge.label_names}
    inputs, drawn = [], {a: [] for a in judge.label_names}
    for index, start in enumerate(range(0, num_samples, batch_size)):
        count = min(batch_size, num_samples - start)
        images, labels = sample(count, seed + index)
        inputs.append(judge.inputs(images))
        predicted = judge.predict_inputs(inputs[-1])
        for a in hits:
            hits[a] += int(np.sum(predicted[a] == np.asarray(labels[a])))
            drawn[a].append(np.asarray(labels[a]))
    spread = within_label_spread(np.concatenate(inputs), {a: np.concatenate(v) for a, v in drawn.items()},
                                 judge.features, seed=seed)
    return {a: hits[a] / num_samples for a in hits}, spread


def label_accuracy(sample, judge, num_samples=1024, batch_size=128, seed=0):
    """{attr: judge accuracy of generated images against their labels} (see `judge_samples`)."""
    return judge_samples(sample, judge, num_samples, batch_size, seed)[0]


def report(generated, judge, spread=None):
    """Flat {name: value} for tables and TensorBoard: per attribute the generated images'
    accuracy, the judge's on held-back real images, their ratio, and chance; with `spread`
    (the generated images' within-label spread), it beside the real images' and their ratio."""
    out = {}
    for a, value in generated.items():
        real = judge.real_accuracy[a]
        out[f"label_accuracy_{a}"] = value
        out[f"real_accuracy_{a}"] = real
        out[f"label_accuracy_ratio_{a}"] = value / real if real else 0.0
        out[f"chance_{a}"] = judge.chance[a]
    for kind in ("pixel", "features"):
        if spread and judge.real_spread:
            real = judge.real_spread[kind]
            out[f"spread_{kind}"] = spread[kind]
            out[f"spread_{kind}_real"] = real
            out[f"spread_{kind}_ratio"] = spread[kind] / real if real else 0.0
    return out


class LabelAccuracyCallback(StepCallback):
    """Every `every` steps and at the end: the label accuracy of the trainer's sampling
    generator, logged as `label_accuracy/<attr>` (and `label_accuracy_ratio/<attr>`) scalars.

    The judge is trained on the real images (an array or a source) when training starts
    (seconds at 32x32).
    """

    def __init__(self, real_images, real_labels, label_names, every, writer=None, num_samples=512,
                 latent="normal", seed=0, verbose=True):
        super().__init__(every)
        self.real_images = real_images
        self.real_labels = real_labels
        self.label_names = label_names
        self.writer = writer
        self.num_samples = num_samples
        self.latent = latent
        self.seed = seed
        self.verbose = verbose
        self.judge = None
        self.last_step = None
        self.last_scores = None

    def on_train_begin(self, logs=None):
        start = time.perf_counter()
        self.judge = fit_label_judge(self.real_images, self.real_labels, self.label_names, self.seed,
                                     progress=self.verbose)
        if self.verbose:
            shown = ", ".join(f"{a} {v:.3f}" for a, v in self.judge.real_accuracy.items())
            log.info(f"label judge: held-back real accuracy {shown} [{time.perf_counter() - start:.0f} s]")

    def on_step(self, step, logs):
        sample = labelled_sampler(self.model.sampling_generator, self.label_names, self.latent)
        generated, spread = judge_samples(sample, self.judge, self.num_samples, seed=self.seed)
        scores = report(generated, self.judge, spread)
        if self.writer is not None:
            with self.writer.as_default(step=step):
                for a, value in generated.items():
                    tf.summary.scalar(f"label_accuracy/{a}", value)
                    tf.summary.scalar(f"label_accuracy_ratio/{a}", scores[f"label_accuracy_ratio_{a}"])
                for kind in ("pixel", "features"):
                    if f"spread_{kind}_ratio" in scores:
                        tf.summary.scalar(f"within_label_spread_ratio/{kind}", scores[f"spread_{kind}_ratio"])
            self.writer.flush()
        if self.verbose:
            shown = ", ".join(f"{a} {v:.3f}" for a, v in generated.items())
            ratio = f"; within-label spread {scores['spread_features_ratio']:.2f} of the real images'" \
                if "spread_features_ratio" in scores else ""
            log.info(f"step {step}: label accuracy {shown}{ratio}")
        self.last_step, self.last_scores = step, scores

    def on_end(self, step):
        if step != self.last_step:
            self.on_step(step, {})
