"""The conditional adversarial trainer (cGAN, conditional DCGAN) and its sample grids.

Batches are (images [B, S, S, 3], {attribute: int [B]}). G draws images for the batch's
labels; D scores (image, labels) pairs. Besides real and fake pairs, D sees real images
with mismatched labels as fakes (Reed et al., 2016, the anime-face report's trick), so it
must check that an image fits its labels, not only that it looks real:

    L_D = l_real(D(x, y)) + 1/2 [l_fake(D(G(z, y), y)) + l_fake(D(x, y'))],   y' != y

where y' differs from y in one attribute per example (see `mismatched`).

which is the mean of the unconditional loss over (real, fake) and (real, mismatched) pairs.
Every loss of GANTrainer works (lsgan, bce, hinge, wgan with clipping, wgan-gp). The same
update serves the concat and the projection discriminators (nets/conditional.py): both read
(image, labels) and return a logit.

`ACGANTrainer` is for the AC-GAN discriminator, which reads the image alone and classifies
every attribute besides its adversarial logit (Odena et al. 2017):

    L_D = L_adv(D) + ac_weight * sum_attr CE(C_attr(x), y_attr)          (real images)
    L_G = L_adv(G) + ac_weight * sum_attr CE(C_attr(G(z, y)), y_attr)    (its fakes)

D's classifier learns from real images only (not from fakes, which early on would teach it
G's mistakes); G is pushed to draw images the classifier reads as their labels. No
mismatched negatives: its logit does not read labels, so a mismatched pair is the real pair.

With `mode_seeking` (MSGAN, Mao et al. 2019) the fakes come in pairs, 2k and 2k + 1, drawn for
the same labels from different noise, and G's loss gains, with d the pair's mean |difference|,

    mode_seeking * mean over pairs of max(target / d - 1, 0)     (`mode_seeking_target` given)
    mode_seeking * mean over pairs of 1 / d                      (MSGAN's own form, without)

so a G that draws the same image whatever the noise pays for it. The target is the real
images' own distance within a label set (the recipe measures it): MSGAN's 1 / d pushes pairs
apart without end, and on digits (whose pairs are close: 0.13 in [-1, 1] units against 0.35
for shapes-dot) it spread them beyond the data's variety and lost the digits (label accuracy
0.97 -> 0.44); the hinged term stops pushing once a pair differs as much as real images of a
label set do. MSGAN divides the image distance by the noises' distance, which for 100-d
Gaussian noise is nearly constant (about 1.13 per dimension) and is left out; the mean over
pairs (not of the whole batch's distance) keeps the term a per-example loss, right under
tf.distribute.
"""

import itertools

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kerasgan import losses
from kerasgan.images import make_grid, to_uint8
from kerasgan.trainers.gan import GANTrainer, draw_for_replica, global_mean, replica_mean, replica_sum


class ConditionalGANTrainer(GANTrainer):
    """GANTrainer for a generator {"noise", attr...} -> image and a discriminator
    {"image", attr...} -> logit. `num_classes` is {attribute: number of classes}."""

    def __init__(self, generator, discriminator, num_classes, mismatch=True, mode_seeking=0.0,
                 mode_seeking_target=None, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.num_classes = dict(num_classes)
        self.mismatch = mismatch
        if mismatch and max(self.num_classes.values()) < 2:
            raise ValueError("mismatched labels need an attribute with two classes or more")
        if mismatch:
            self.trackers["d_mismatch"] = keras.metrics.Mean(name="d_mismatch")
        self.mode_seeking = mode_seeking
        self.mode_seeking_target = mode_seeking_target
        if mode_seeking:
            self.trackers["pair_distance"] = keras.metrics.Mean(name="pair_distance")

    def unpack(self, data):
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise ValueError("a conditional trainer needs (images, {attribute: labels}) batches")
        return data

    def generate(self, noise, labels=None):
        return self.generator({"noise": noise, **labels}, training=True)

    def critic(self, images, labels=None):
        return self.discriminator({"image": images, **labels}, training=True)

    def draw_codes(self, batch, labels=None):
        """The batch's labels; with mode seeking, fake 2k + 1 takes fake 2k's labels, so each
        pair differs in its noise alone (adjacent pairs stay on one replica under tf.distribute)."""
        if not self.mode_seeking:
            return labels
        return {name: ops.repeat(value[0::2], 2, axis=0)[:batch] for name, value in labels.items()}

    def mode_seeking_loss(self, fake):
        """MSGAN's term (module doc) for fakes drawn in pairs by `draw_codes`; 0 when off."""
        if not self.mode_seeking:
            return 0.0
        pairs = ops.shape(fake)[0] // 2
        distance = ops.mean(ops.abs(fake[0:2 * pairs:2] - fake[1:2 * pairs:2]), axis=(1, 2, 3))
        self.trackers["pair_distance"].update_state(replica_mean(ops.mean(distance)))
        if self.mode_seeking_target is None:
            return self.mode_seeking * global_mean(1.0 / (distance + 1e-5))
        return self.mode_seeking * global_mean(ops.relu(self.mode_seeking_target / (distance + 1e-5) - 1.0))

    def generator_loss(self, fake, codes):
        return super().generator_loss(fake, codes) + self.mode_seeking_loss(fake)

    def mismatched(self, labels):
        """The true labels with one attribute per example changed to a wrong class.

        The attribute is drawn per example (among those with more than one class) and
        shifted by a random offset in [1, classes) modulo its class count, so the new class
        is uniform over the wrong ones and never the true one. Changing a single attribute
        makes D check every attribute: were all of them shifted, the easiest one (colour,
        say) would give every mismatch away and G could ignore the others.
        """
        names = [name for name, count in self.num_classes.items() if count > 1]
        batch = ops.shape(labels[names[0]])[0]

        def randint(low, high):
            def draw(n):
                return keras.random.randint((n,), low, high, seed=self.seed_generator, dtype="int32")

            return draw_for_replica(draw, batch)

        which = randint(0, len(names))
        wrong = dict(labels)
        for index, name in enumerate(names):
            count = self.num_classes[name]
            label = ops.cast(labels[name], "int32")
            wrong[name] = ops.where(which == index, (label + randint(1, count)) % count, label)
        return wrong

    def d_update(self, real, labels, fake, codes):
        """Real images with their labels, fakes with the labels they were drawn for (`codes`:
        the batch's, paired under mode seeking) and, with mismatch, real images with wrong ones."""
        real_target, fake_target = self.d_targets(ops.shape(real)[0])
        with tf.GradientTape() as tape:
            if self.mismatch:
                wrong = self.mismatched(labels)
                real_logits, fake_logits, wrong_logits = self.discriminate_groups(
                    [real, fake, real], [labels, codes, wrong])
                # Both terms share the real part, so their mean halves only the two fake parts.
                per_example = 0.5 * (
                    losses.d_loss(self.loss_kind, real_logits, fake_logits, real_target, fake_target)
                    + losses.d_loss(self.loss_kind, real_logits, wrong_logits, real_target, fake_target))
            else:
                real_logits, fake_logits = self.discriminate_groups([real, fake], [labels, codes])
                per_example = losses.d_loss(self.loss_kind, real_logits, fake_logits, real_target, fake_target)
            per_example = per_example + self.penalty(real, fake, lambda x: self.critic(x, labels))
            loss = global_mean(per_example)
        self.update_discriminator(tape, loss)
        self.track_d(loss, real_logits, fake_logits)
        if self.mismatch:
            self.trackers["d_mismatch"].update_state(replica_mean(ops.mean(wrong_logits)))


def class_cross_entropy(outputs, labels, num_classes):
    """sum over attributes of the cross-entropy of class logits `outputs[attr]` [B, classes]
    against `labels[attr]` int [B], per example: [B]."""
    total = 0.0
    for name in num_classes:
        total = total + tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=ops.cast(labels[name], "int32"), logits=ops.cast(outputs[name], "float32"))
    return total


class ACGANTrainer(ConditionalGANTrainer):
    """ConditionalGANTrainer for a discriminator {"image"} -> {"logit", attr: class logits...}:
    the auxiliary classifier's cross-entropy joins D's loss on real images and G's loss on its
    fakes, weighted by `ac_weight` (see the module doc)."""

    def __init__(self, generator, discriminator, num_classes, ac_weight=1.0, **kwargs):
        if kwargs.pop("mismatch", False):
            raise ValueError("AC-GAN's discriminator does not read labels: mismatched negatives do not apply")
        super().__init__(generator, discriminator, num_classes, mismatch=False, **kwargs)
        self.ac_weight = ac_weight
        for name in ("ac_real", "ac_fake", "ac_real_accuracy"):
            self.trackers[name] = keras.metrics.Mean(name=name)

    def critic(self, images, labels=None):
        return self.discriminator({"image": images}, training=True)

    def d_update(self, real, labels, fake, codes):
        real_target, fake_target = self.d_targets(ops.shape(real)[0])
        with tf.GradientTape() as tape:
            real_out, fake_out = self.discriminate(real, fake, labels)
            per_example = losses.d_loss(self.loss_kind, real_out["logit"], fake_out["logit"],
                                        real_target, fake_target)
            classification = class_cross_entropy(real_out, labels, self.num_classes)
            per_example = per_example + self.ac_weight * classification
            per_example = per_example + self.penalty(real, fake, lambda x: self.critic(x)["logit"])
            loss = global_mean(per_example)
        self.update_discriminator(tape, loss)
        self.track_d(loss, real_out["logit"], fake_out["logit"])
        self.trackers["ac_real"].update_state(replica_sum(global_mean(classification)))
        hits = [ops.cast(ops.equal(ops.cast(ops.argmax(real_out[a], axis=-1), "int32"), ops.cast(labels[a], "int32")),
                         "float32")
                for a in self.num_classes]
        self.trackers["ac_real_accuracy"].update_state(replica_mean(ops.mean(ops.stack(hits))))

    def generator_loss(self, fake, codes):
        fake_out = self.critic(self.augment(fake), codes)
        adversarial = losses.g_loss(self.loss_kind, fake_out["logit"], self.g_target)
        classification = class_cross_entropy(fake_out, codes, self.num_classes)
        loss = global_mean(adversarial + self.ac_weight * classification)
        self.trackers["g_loss"].update_state(replica_sum(loss))
        self.trackers["ac_fake"].update_state(replica_sum(global_mean(classification)))
        return loss + self.mode_seeking_loss(fake)


# -- sample grids --------------------------------------------------------------------------
def label_rows(num_classes, max_rows=16):
    """Label combinations for a grid, one per row: {attr: int [rows]}.

    All combinations (attributes in order, the last varying fastest) when there are at most
    `max_rows`, else `max_rows` of them spread evenly over the list.
    """
    combos = list(itertools.product(*(range(n) for n in num_classes.values())))
    if len(combos) > max_rows:
        combos = [combos[i] for i in np.linspace(0, len(combos) - 1, max_rows).round().astype(int)]
    columns = np.asarray(combos, np.int32).T
    return {name: columns[i] for i, name in enumerate(num_classes)}


def row_labels(rows, label_names):
    """One text per row, e.g. "shape=circle color=red", for logs and captions."""
    count = len(next(iter(rows.values())))
    return [" ".join(f"{a}={label_names[a][int(rows[a][r])]}" for a in rows) for r in range(count)]


def label_grid(generator, noise, rows):
    """A render function: one row per label combination, one column per noise vector.

    `noise` [columns, noise_dim] is shared by every row, so a column shows what the labels
    change for one noise vector.
    """
    columns = len(noise)
    count = len(next(iter(rows.values())))
    inputs = {"noise": np.tile(noise, (count, 1)),
              **{name: np.repeat(ids, columns) for name, ids in rows.items()}}
    return lambda: make_grid(to_uint8(generator(inputs, training=False)), columns)
