"""A small MNIST digit classifier, trained from ../shared/data/mnist5k, to judge generated digits.

`digit_classifier(folder)` is trained (about 20-60 s on 2 busy CPU cores; its weights are
shipped beside this file) on 90% of the 5,000 real digits (450 per class) and measured on the
held-back 10% (50 per class). Calibration of the shipped weights on the held-back real digits
(seed 0): 98.0% accuracy, 90.6% of them classified with confidence >= 0.9 (the figure
`CONFIDENT` uses; other trainings: 97-98% and 92-97%), so "the classifier is confident" on a
generated digit means it looks about as clearly like one digit as a real one does.

The scores used by the learning tests and the README measurements:
- `label_match(classifier, images, labels)`: fraction of images classified as their label
  (conditional models; chance 10%).
- `confident_digits(classifier, images)`: fraction classified with confidence >= CONFIDENT,
  and the count per predicted digit (unconditional models: "every digit appears").
- `code_agreement(classifier, images, codes)`: InfoGAN's categorical code against the digits:
  each code value is mapped to its majority predicted digit; the fraction agreeing with that
  mapping, and how many distinct digits the 10 values map to.

Run as a script to score a run's generator: python tests/digits.py RUN_DIR [RUN_DIR ...]
(`--retrain`: train the classifier again and rewrite its shipped weights).
"""

import sys
from pathlib import Path

import numpy as np

SIZE = 32  # images are resized to this before classification
CONFIDENT = 0.9
_CACHE = {}
# The default classifier's weights (a 30-60 s training saved): `python tests/digits.py --retrain`
# trains it again on ../shared/data/mnist5k and rewrites this file.
SHIPPED_WEIGHTS = Path(__file__).with_name("digit_classifier.weights.h5")


def load_digits(folder, size=SIZE):
    """(uint8 [N, size, size, 1], int labels [N]) from the class subfolders 0..9 of `folder`."""
    from kerasgan.data.labels import load_subfolder_labels
    from kerasgan.data.sources import with_channels

    images, labels, names = load_subfolder_labels(Path(folder), size)
    images, _ = with_channels(images, 1)
    return images, np.asarray([int(names["label"][i]) for i in labels["label"]], np.int32)


def _prepare(images):
    """uint8 [N, H, W, C] or float [-1, 1] -> float [N, SIZE, SIZE, 1] in [-1, 1]."""
    import tensorflow as tf

    images = np.asarray(images)
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / 127.5 - 1.0
    if images.shape[-1] == 3:
        images = images @ np.asarray([0.299, 0.587, 0.114], np.float32)[:, None]
    if images.shape[1:3] != (SIZE, SIZE):
        images = tf.image.resize(images, (SIZE, SIZE), antialias=True).numpy()
    return images.astype(np.float32)


def build_classifier():
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((SIZE, SIZE, 1)),
        layers.RandomTranslation(0.08, 0.08, fill_mode="constant", fill_value=-1.0),
        layers.Conv2D(32, 3, activation="relu", padding="same"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu", padding="same"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu", padding="same"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dropout(0.3), layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])


def digit_classifier(folder, seed=0, epochs=6, retrain=False):
    """A trained keras classifier: float [N, 32, 32, 1] in [-1, 1] -> 10 softmax scores.

    The default (seed 0, 6 epochs) loads SHIPPED_WEIGHTS unless `retrain`; other settings
    train here. Has `.calibration` = {"accuracy", "confident"}, measured here on the
    held-back real digits. Once per process and folder.
    """
    key = (str(folder), seed, epochs, retrain)
    if key in _CACHE:
        return _CACHE[key]
    import keras

    images, labels = load_digits(folder)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    held = order[: len(order) // 10]
    train = order[len(order) // 10:]
    x = _prepare(images)
    keras.utils.set_random_seed(seed)
    model = build_classifier()
    if (seed, epochs) == (0, 6) and not retrain and SHIPPED_WEIGHTS.exists():
        model.load_weights(str(SHIPPED_WEIGHTS))
    else:
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        model.fit(x[train], labels[train], batch_size=64, epochs=epochs, verbose=0)
    scores = model.predict(x[held], verbose=0)
    model.calibration = {"accuracy": float(np.mean(scores.argmax(1) == labels[held])),
                         "confident": float(np.mean(scores.max(1) >= CONFIDENT))}
    _CACHE[key] = model
    return model


def predict(classifier, images, batch=256):
    """Softmax scores [N, 10] of images (uint8 or [-1, 1] floats, 1 or 3 channels, any size)."""
    x = _prepare(images)
    return np.concatenate([classifier.predict(x[i:i + batch], verbose=0) for i in range(0, len(x), batch)])


def label_match(classifier, images, labels):
    return float(np.mean(predict(classifier, images).argmax(1) == np.asarray(labels)))


def confident_digits(classifier, images):
    """(fraction classified with confidence >= CONFIDENT, counts [10] of the confident ones' digits)."""
    scores = predict(classifier, images)
    confident = scores.max(1) >= CONFIDENT
    return float(np.mean(confident)), np.bincount(scores.argmax(1)[confident], minlength=10)


def code_agreement(classifier, images, codes, categories=10):
    """(fraction agreeing with the code -> majority digit map, distinct digits mapped to, map)."""
    digits = predict(classifier, images).argmax(1)
    codes = np.asarray(codes)
    mapping = {c: int(np.bincount(digits[codes == c], minlength=10).argmax()) for c in range(categories)
               if np.any(codes == c)}
    agree = np.mean([digits[i] == mapping[c] for i, c in enumerate(codes)])
    return float(agree), len(set(mapping.values())), mapping


def score_generator(classifier, generator, num=1000, seed=0, latent="normal"):
    """The scores of a Keras generator (unconditional, conditional on `label`, or InfoGAN)."""
    from kerasgan.metrics.callback import draw_inputs, generator_specs

    specs = generator_specs(generator)
    rng = np.random.default_rng(seed)
    noise_dim = specs["noise"].shape[-1] if "noise" in specs else next(iter(specs.values())).shape[-1]
    noise = (rng.standard_normal((num, noise_dim)) if latent == "normal"
             else rng.uniform(-1.0, 1.0, (num, noise_dim))).astype(np.float32)
    if len(specs) == 1:
        images = np.asarray(generator(noise, training=False))
        fraction, counts = confident_digits(classifier, images)
        return {"confident": fraction, "digit_counts": counts.tolist(), "min_count": int(counts.min())}
    inputs = draw_inputs(specs, num, {n: [str(i) for i in range(10)] for n in specs if n not in ("noise", "continuous")},
                         latent, seed)
    images = np.asarray(generator(inputs, training=False))
    if "label" in specs:
        fraction, counts = confident_digits(classifier, images)
        return {"label_match": label_match(classifier, images, inputs["label"]), "confident": fraction}
    agree, distinct, mapping = code_agreement(classifier, images, inputs["code1"])
    fraction, counts = confident_digits(classifier, images)
    return {"code_agreement": agree, "distinct_digits": distinct, "mapping": mapping, "confident": fraction}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import kerasgan  # noqa: F401
    from kerasgan.recipes import load_run

    mnist = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist5k"
    retrain = "--retrain" in sys.argv[1:]
    classifier = digit_classifier(mnist, retrain=retrain)
    print("classifier calibration on held-back real digits:", classifier.calibration, flush=True)
    if retrain:
        plain = build_classifier()  # the weights alone, not the optimizer's state
        plain.set_weights(classifier.get_weights())
        plain.save_weights(str(SHIPPED_WEIGHTS))
    for run_dir in (a for a in sys.argv[1:] if a != "--retrain"):
        recipe = load_run(run_dir, quiet=True)
        print(run_dir, score_generator(classifier, recipe.generator, latent=recipe.config.latent), flush=True)
