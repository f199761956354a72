"""The CycleGAN trainer: G: X -> Y, F: Y -> X, D_X and D_Y updated together in one step.

Per step (Zhu et al., 2017, and their reference code's order):
1. G and F update on  adversarial(D_Y(G(x))) + adversarial(D_X(F(y)))
                      + lambda_cycle * (|F(G(x)) - x| + |G(F(y)) - y|)
                      + lambda_cycle * lambda_identity * (|G(y) - y| + |F(x) - x|)
2. D_X and D_Y update on real images against the fakes of step 1, each drawn through an
   image history pool of 50 past fakes per domain (Shrivastava et al., 2017).
With least squares, the generator's adversarial term is the full MSE (D(G(x)) - 1)^2 as in the
reference code (kerasgan's lsgan_g is half of that), so lambda_cycle = 10 balances the same;
D's least-squares loss is the reference's 0.5 * (MSE(real, 1) + MSE(fake, 0)).
"""

import keras
import tensorflow as tf
from keras import ops

from kerasgan import losses
from kerasgan.augment.diffaug import diff_augment
from kerasgan.images import make_grid, to_uint8
from kerasgan.replicas import gather_replicas
from kerasgan.trainers.ema import averaged_copy, check_decay, update_average
from kerasgan.trainers.gan import (TwoOptimizerTrainer, apply_loss, global_mean, mixes_examples, replica_sum,
                                   saved_seed_generator, step_logs)

CYCLE_ADVERSARIAL_LOSSES = ("lsgan", "bce", "hinge")


class ImagePool(keras.layers.Layer):
    """A history of `size` generated images, held in (non-trainable) variables.

    `query(images, seed)` returns a batch of the same shape. Per image, as the reference
    code: while the pool is not full, store the image and return it; once full, with
    probability 0.5 return a random stored image and store the new one in its place,
    otherwise return the new image. Images are taken one after another in the batch, so two
    that pick the same slot behave as if queried in turn. XLA-compatible: the only Python
    loop runs over the (static) batch size, and decisions are made with tensor selects.
    Under a tf.distribute strategy every replica runs the query on the gathered global batch
    (the same draws, the same pool) and returns its own rows, so N replicas keep the pool
    exactly as one device does.
    """

    def __init__(self, size=50, image_shape=(64, 64, 3), **kwargs):
        super().__init__(**kwargs)
        self.size = size
        self.images = self.add_weight(shape=(max(size, 1), *image_shape), initializer="zeros",
                                      trainable=False, name="images")
        self.count = self.add_weight(shape=(), dtype="int32", initializer="zeros", trainable=False,
                                     name="count")
        self.built = True

    def query(self, images, seed):
        """images [B, H, W, C] -> images [B, H, W, C]; `seed` is a keras.random.SeedGenerator."""
        if self.size == 0:
            return images
        batch = images.shape[0]
        if batch is None:
            raise ValueError("ImagePool needs a static batch size (batch with drop_remainder=True)")
        everything, start = gather_replicas(images)
        total = everything.shape[0]
        swap = keras.random.uniform((total,), seed=seed) < 0.5
        slots = keras.random.randint((total,), 0, self.size, seed=seed)
        pool, count = ops.convert_to_tensor(self.images), ops.convert_to_tensor(self.count)
        outputs = []
        for i in range(total):
            output, pool, count = self._exchange(pool, count, everything[i], swap[i], slots[i])
            outputs.append(output)
        self.images.assign(pool)
        self.count.assign(count)
        outputs = ops.stack(outputs)
        return outputs if total == batch else tf.gather(outputs, tf.range(batch) + start)

    def _exchange(self, pool, count, image, swap, random_slot):
        """One image through the pool: (returned image, new pool, new count)."""
        filling = count < self.size
        slot = ops.where(filling, count, random_slot)
        stored = ops.take(pool, slot, axis=0)
        swap = ops.logical_and(ops.logical_not(filling), swap)
        # Filling: write the new image to the next slot. Swapping: write it over the old one.
        new_entry = ops.where(ops.logical_or(filling, swap), image, stored)
        pool = ops.scatter_update(pool, ops.reshape(slot, (1, 1)), new_entry[None])
        return ops.where(swap, stored, image), pool, ops.minimum(count + 1, self.size)


class CycleGANTrainer(TwoOptimizerTrainer):
    """Trains `g_xy` (G: X -> Y) and `g_yx` (F: Y -> X) against `d_x` and `d_y`.

    `image_size` is the side of the training crops (for the history pools). `lambda_identity`
    is a fraction of `lambda_cycle`, as in the paper's code (0 turns the identity loss off).
    Call with (x_batch, y_batch) pairs of float [B, S, S, 3] in [-1, 1].
    """

    def __init__(self, g_xy, g_yx, d_x, d_y, image_size, loss="lsgan", lambda_cycle=10.0,
                 lambda_identity=0.0, cycle_loss="l1", pool_size=50, diffaug=(), seed=None, ema=0.0, **kwargs):
        super().__init__(**kwargs)
        if loss not in CYCLE_ADVERSARIAL_LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {CYCLE_ADVERSARIAL_LOSSES}")
        if cycle_loss not in losses.CYCLE_LOSSES:
            raise ValueError(f"unknown cycle loss {cycle_loss!r}; choose one of {losses.CYCLE_LOSSES}")
        self.g_xy, self.g_yx = g_xy, g_yx
        self.d_x, self.d_y = d_x, d_y
        self.loss_kind = loss
        self.lambda_cycle = lambda_cycle
        self.lambda_identity = lambda_identity
        self.cycle_kind = cycle_loss
        self.diffaug = tuple(diffaug)
        self.pool_x = ImagePool(pool_size, (image_size, image_size, 3), name="pool_x")
        self.pool_y = ImagePool(pool_size, (image_size, image_size, 3), name="pool_y")
        self.seed_generator = saved_seed_generator(self, seed)
        # Exponential moving averages of both generators' weights (0: none), see trainers/ema.py.
        self.ema = check_decay(ema)
        self.ema_g_xy = averaged_copy(g_xy) if ema else None
        self.ema_g_yx = averaged_copy(g_yx) if ema else None
        # Real and fake share one D call unless batch norm would mix their statistics.
        self.joint_d_pass = not (mixes_examples(d_x) or mixes_examples(d_y))
        names = ["g_loss", "adversarial", "cycle"] + (["identity"] if lambda_identity else []) + [
            "d_x_loss", "d_y_loss"]
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        # The sub-models are built already; without this Keras refuses to save weights.
        self.built = True

    @property
    def generator_weights(self):
        return self.g_xy.trainable_variables + self.g_yx.trainable_variables

    @property
    def discriminator_weights(self):
        return self.d_x.trainable_variables + self.d_y.trainable_variables

    @property
    def translators(self):
        """(G, F) for samples, translate and export: the EMA copies when EMA is on."""
        if self.ema_g_xy is not None:
            return self.ema_g_xy, self.ema_g_yx
        return self.g_xy, self.g_yx

    def call(self, x, training=False):
        return self.g_xy(x, training=training)

    # -- losses, per example -----------------------------------------------------------
    def augment(self, images):
        return diff_augment(images, self.diffaug, self.seed_generator)

    def adversarial_g(self, discriminator, fake):
        per_example = losses.g_loss(self.loss_kind, discriminator(self.augment(fake), training=True))
        # lsgan_g is 0.5 * MSE (Mao et al.); CycleGAN's reference uses the full MSE.
        return 2.0 * per_example if self.loss_kind == "lsgan" else per_example

    def adversarial_d(self, discriminator, real, fake):
        real, fake = self.augment(real), self.augment(fake)
        if self.joint_d_pass:
            real_logits, fake_logits = ops.split(
                discriminator(ops.concatenate([real, fake], axis=0), training=True), 2, axis=0)
        else:
            real_logits = discriminator(real, training=True)
            fake_logits = discriminator(fake, training=True)
        return losses.d_loss(self.loss_kind, real_logits, fake_logits)

    def generator_losses(self, real_x, real_y):
        """Per-example loss terms [B] and the fakes: ({"g_loss", "adversarial", ...}, fake_x, fake_y)."""
        fake_y = self.g_xy(real_x, training=True)
        fake_x = self.g_yx(real_y, training=True)
        cycled_x = self.g_yx(fake_y, training=True)
        cycled_y = self.g_xy(fake_x, training=True)
        terms = {
            "adversarial": self.adversarial_g(self.d_y, fake_y) + self.adversarial_g(self.d_x, fake_x),
            "cycle": (losses.cycle_loss(real_x, cycled_x, self.cycle_kind)
                      + losses.cycle_loss(real_y, cycled_y, self.cycle_kind)),
        }
        total = terms["adversarial"] + self.lambda_cycle * terms["cycle"]
        if self.lambda_identity:
            # G should leave images that already look like Y alone (and F those of X).
            terms["identity"] = (losses.l1(real_y, self.g_xy(real_y, training=True))
                                 + losses.l1(real_x, self.g_yx(real_x, training=True)))
            total = total + self.lambda_cycle * self.lambda_identity * terms["identity"]
        terms["g_loss"] = total
        return terms, fake_x, fake_y

    def discriminator_losses(self, real_x, real_y, fake_x, fake_y):
        """Per-example {"d_x_loss", "d_y_loss"} [B] for the given (already pooled) fakes."""
        return {"d_x_loss": self.adversarial_d(self.d_x, real_x, fake_x),
                "d_y_loss": self.adversarial_d(self.d_y, real_y, fake_y)}

    # -- the update rule ---------------------------------------------------------------
    def g_step(self, real_x, real_y):
        weights = self.generator_weights
        with tf.GradientTape() as tape:
            terms, fake_x, fake_y = self.generator_losses(real_x, real_y)
            loss = global_mean(terms["g_loss"])
        apply_loss(self.g_optimizer, tape, loss, weights)
        if self.ema_g_xy is not None:
            update_average(self.ema_g_xy, self.g_xy, self.ema, self.g_optimizer.iterations)
            update_average(self.ema_g_yx, self.g_yx, self.ema, self.g_optimizer.iterations)
        for name, value in terms.items():
            self.trackers[name].update_state(replica_sum(global_mean(value)))
        return ops.stop_gradient(fake_x), ops.stop_gradient(fake_y)

    def d_step(self, real_x, real_y, fake_x, fake_y):
        fake_x = self.pool_x.query(fake_x, self.seed_generator)
        fake_y = self.pool_y.query(fake_y, self.seed_generator)
        weights = self.discriminator_weights
        with tf.GradientTape() as tape:
            terms = {k: global_mean(v) for k, v in self.discriminator_losses(real_x, real_y, fake_x, fake_y).items()}
            loss = terms["d_x_loss"] + terms["d_y_loss"]  # each D only sees its own term's gradient
        apply_loss(self.d_optimizer, tape, loss, weights)
        for name, value in terms.items():
            self.trackers[name].update_state(replica_sum(value))

    def train_step(self, data):
        real_x, real_y = data
        fake_x, fake_y = self.g_step(real_x, real_y)
        self.d_step(real_x, real_y, fake_x, fake_y)
        return step_logs(self.trackers)


def cycle_grid(g_xy, g_yx, x_images, y_images):
    """A render function for SampleGrid: rows X, G(X), F(G(X)), Y, F(Y), G(F(Y)).

    `x_images`, `y_images`: float [k, S, S, 3] in [-1, 1] (fixed test images of each domain).
    """
    def render():
        fake_y = g_xy(x_images, training=False)
        fake_x = g_yx(y_images, training=False)
        rows = [x_images, fake_y, g_yx(fake_y, training=False),
                y_images, fake_x, g_xy(fake_x, training=False)]
        return make_grid(to_uint8(ops.concatenate(rows, axis=0)), columns=len(x_images))

    return render
