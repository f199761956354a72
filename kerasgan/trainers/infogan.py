"""The InfoGAN trainer (Chen et al., 2016) and its latent traversal grids.

G gets noise plus codes: categorical codes c ~ Uniform{0..k-1} and continuous codes
c ~ U(-1, 1). Q (a head on D's trunk) predicts the codes from G's images; minimising its
negative log-likelihood maximises a lower bound on the mutual information I(c; G(z, c)):

    L_info = sum_codes CE(Q_cat(G(z, c)), c_cat) + continuous_weight * NLL(c_cont | Q(G(z, c)))

with a Gaussian NLL (Q predicts a mean and a log-variance per code) or plain MSE for the
continuous codes. D minimises its adversarial loss + info_weight * L_info (Q's weights are
D's), G its adversarial loss + info_weight * L_info. With `supervised` naming a categorical
code that is also a label attribute, Q additionally learns that code from the real images'
labels (semi-supervised InfoGAN), which ties the code to the attribute.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kerasgan import losses
from kerasgan.images import make_grid, to_uint8
from kerasgan.trainers.gan import GANTrainer, draw_for_replica, global_mean, replica_mean, replica_sum

CONTINUOUS_LOSSES = ("gaussian", "mse")


def categorical_nll(logits, ids):
    """Cross-entropy per example: logits [B, k], ids int [B] -> [B]."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ops.cast(ids, "int32"), logits=logits)


def gaussian_nll(codes, mean, logvar):
    """-log N(codes; mean, exp(logvar)) per example, summed over codes, constant dropped: [B]."""
    logvar = ops.clip(logvar, -8.0, 8.0)  # keeps exp(-logvar) finite when Q becomes certain
    return ops.sum(0.5 * logvar + 0.5 * ops.square(codes - mean) * ops.exp(-logvar), axis=1)


def squared_error(codes, mean):
    return ops.sum(0.5 * ops.square(codes - mean), axis=1)


class InfoGANTrainer(GANTrainer):
    """GANTrainer whose generator takes {"noise", codes..., "continuous"} and whose
    discriminator returns {"logit", code logits..., "continuous_mean", "continuous_logvar"}.

    `categorical` is {code name: categories}; `continuous` the number of continuous codes.
    """

    def __init__(self, generator, discriminator, categorical, continuous=2, info_weight=1.0,
                 continuous_weight=0.1, continuous_loss="gaussian", supervised=None, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        if continuous_loss not in CONTINUOUS_LOSSES:
            raise ValueError(f"unknown continuous loss {continuous_loss!r}; choose from {CONTINUOUS_LOSSES}")
        if supervised is not None and supervised not in categorical:
            raise ValueError(f"supervised code {supervised!r} is not a categorical code ({list(categorical)})")
        self.categorical = dict(categorical)
        self.continuous = continuous
        self.info_weight = info_weight
        self.continuous_weight = continuous_weight
        self.continuous_loss = continuous_loss
        self.supervised = supervised
        for name in ["info_loss"] + (["q_accuracy"] if categorical else []):
            self.trackers[name] = keras.metrics.Mean(name=name)

    def unpack(self, data):
        if self.supervised is None:
            return super().unpack(data)
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise ValueError("a supervised InfoGAN needs (images, {attribute: labels}) batches")
        return data

    def sample_codes(self, batch):
        """{code: int [B]} uniform over categories, plus "continuous": [B, n] in U(-1, 1)."""
        seed = self.seed_generator

        def categories(count):
            return lambda n: keras.random.randint((n,), 0, count, seed=seed, dtype="int32")

        def continuous(n):
            return keras.random.uniform((n, self.continuous), -1.0, 1.0, seed=seed)

        codes = {name: draw_for_replica(categories(count), batch) for name, count in self.categorical.items()}
        if self.continuous:
            codes["continuous"] = draw_for_replica(continuous, batch)
        return codes

    def generate(self, noise, codes=None):
        return self.generator({"noise": noise, **codes}, training=True)

    def info_loss(self, outputs, codes):
        """Q's negative log-likelihood of the codes G was given, per example [B]."""
        loss = 0.0
        for name in self.categorical:
            loss = loss + categorical_nll(outputs[name], codes[name])
        if self.continuous:
            if self.continuous_loss == "gaussian":
                nll = gaussian_nll(codes["continuous"], outputs["continuous_mean"], outputs["continuous_logvar"])
            else:
                nll = squared_error(codes["continuous"], outputs["continuous_mean"])
            loss = loss + self.continuous_weight * nll
        return loss

    def draw_codes(self, batch, labels=None):
        return self.sample_codes(batch)

    def d_update(self, real, labels, fake, codes):
        real_target, fake_target = self.d_targets(ops.shape(real)[0])
        with tf.GradientTape() as tape:
            real_out, fake_out = self.discriminate(real, fake)
            per_example = losses.d_loss(self.loss_kind, real_out["logit"], fake_out["logit"],
                                        real_target, fake_target)
            info = self.info_loss(fake_out, codes)
            if self.supervised is not None:
                info = info + categorical_nll(real_out[self.supervised], labels[self.supervised])
            per_example = per_example + self.info_weight * info
            per_example = per_example + self.penalty(real, fake, lambda x: self.critic(x)["logit"])
            loss = global_mean(per_example)
        self.update_discriminator(tape, loss)
        self.track_d(loss, real_out["logit"], fake_out["logit"])

    def generator_loss(self, fake, codes):
        outputs = self.critic(self.augment(fake))
        info = global_mean(self.info_loss(outputs, codes))
        adversarial = global_mean(losses.g_loss(self.loss_kind, outputs["logit"], self.g_target))
        loss = adversarial + self.info_weight * info
        self.trackers["g_loss"].update_state(replica_sum(loss))
        self.trackers["info_loss"].update_state(replica_sum(info))
        if self.categorical:
            first = next(iter(self.categorical))
            hits = ops.cast(ops.argmax(outputs[first], axis=-1), "int32") == ops.cast(codes[first], "int32")
            self.trackers["q_accuracy"].update_state(replica_mean(ops.mean(ops.cast(hits, "float32"))))
        return loss


# -- traversal grids -----------------------------------------------------------------------
def traversal_inputs(noise, categorical, continuous, columns=8, sweep=(-2.0, 2.0)):
    """Generator inputs for a traversal grid, `columns` images per row.

    For each continuous code j, one row per category of the first categorical code, the
    columns sweeping code j over `sweep` (others 0), one noise vector (noise[0]) throughout.
    Without continuous codes: one row per category, one noise vector per column.
    """
    categories = next(iter(categorical.values())) if categorical else 1
    blocks = range(continuous) if continuous else [None]
    inputs = {"noise": [], "continuous": [], **{name: [] for name in categorical}}
    for code in blocks:
        for category in range(categories):
            for column in range(columns):
                inputs["noise"].append(noise[0] if code is not None else noise[column % len(noise)])
                values = np.zeros(continuous, np.float32)
                if code is not None:
                    values[code] = np.linspace(*sweep, columns)[column]
                inputs["continuous"].append(values)
                for i, name in enumerate(categorical):
                    inputs[name].append(category if i == 0 else 0)
    arrays = {"noise": np.asarray(inputs["noise"], np.float32),
              **{name: np.asarray(inputs[name], np.int32) for name in categorical}}
    if continuous:
        arrays["continuous"] = np.asarray(inputs["continuous"], np.float32)
    return arrays


def traversal_grid(generator, noise, categorical, continuous, columns=8):
    """A render function for SampleGrid: rows are categories, columns a continuous sweep."""
    inputs = traversal_inputs(noise, categorical, continuous, columns)
    return lambda: make_grid(to_uint8(generator(inputs, training=False)), columns)
