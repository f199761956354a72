"""The adversarial-pair trainer: one generator, one discriminator, one update rule.

Covers least squares, non-saturating BCE, hinge, WGAN with weight clipping and WGAN-GP,
with n_critic discriminator updates per generator update, one-sided label smoothing, noisy
labels and DiffAugment. `train_step` is XLA-compiled by default.
"""

import keras
import tensorflow as tf
from keras import ops

from kerasgan import losses
from kerasgan.augment.diffaug import diff_augment

LATENT_PRIORS = ("normal", "uniform")


def global_mean(per_example):
    """Sum over the local batch divided by the *global* batch size.

    Under a tf.distribute strategy the replicas' gradients are summed, so dividing by the
    global batch makes the result equal to the single-device mean.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    batch = ops.cast(ops.shape(per_example)[0] * replicas, per_example.dtype)
    return ops.sum(per_example) / batch


def saved_seed_generator(model, seed):
    """A SeedGenerator owned by `model` whose state goes into its checkpoints.

    Keras tracks seed generators but does not save their state with save_weights; without
    it a resumed run would draw different noise than an uninterrupted one.
    """
    generator = keras.random.SeedGenerator(seed)
    model._track_variable(generator.state)
    return generator


def has_batch_norm(model):
    return any(isinstance(layer, keras.layers.BatchNormalization) for layer in model._flatten_layers())


class GANTrainer(keras.Model):
    """Trains `generator` (noise -> image) against `discriminator` (image -> logits)."""

    def __init__(self, generator, discriminator, loss="lsgan", n_critic=1, gp_weight=10.0,
                 clip_value=0.01, diffaug=(), label_smoothing=0.0, noisy_labels=False,
                 latent="normal", seed=None, **kwargs):
        super().__init__(**kwargs)
        if loss not in losses.ADVERSARIAL_LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {losses.ADVERSARIAL_LOSSES}")
        if latent not in LATENT_PRIORS:
            raise ValueError(f"unknown latent prior {latent!r}; choose one of {LATENT_PRIORS}")
        self.generator = generator
        self.discriminator = discriminator
        self.noise_dim = generator.input_shape[-1]
        self.loss_kind = loss
        self.n_critic = n_critic
        self.gp_weight = gp_weight
        self.clip_value = clip_value if loss == "wgan" else None
        self.diffaug = tuple(diffaug)
        self.label_smoothing = label_smoothing
        self.noisy_labels = noisy_labels
        self.latent = latent
        self.seed_generator = saved_seed_generator(self, seed)
        # Real and fake go through D in one concatenated call unless batch norm would then
        # mix their statistics (which changes what D learns).
        self.joint_d_pass = not has_batch_norm(discriminator)
        names = ["d_loss", "g_loss", "d_real", "d_fake"] + (["gp"] if loss == "wgan-gp" else [])
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        # The sub-models are built already; without this Keras refuses to save weights.
        self.built = True

    def compile(self, g_optimizer, d_optimizer, jit_compile=True, **kwargs):
        # optimizer=None: otherwise Keras creates an unused RMSprop that shows up in logs.
        super().compile(optimizer=None, jit_compile=jit_compile, **kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        # Built now so checkpoints can be restored before the first step.
        g_optimizer.build(self.generator.trainable_variables)
        d_optimizer.build(self.discriminator.trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def step(self):
        """Completed training steps (generator updates)."""
        return self.g_optimizer.iterations

    def sample_noise(self, batch_size):
        shape = (batch_size, self.noise_dim)
        if self.latent == "uniform":
            return keras.random.uniform(shape, -1.0, 1.0, seed=self.seed_generator)
        return keras.random.normal(shape, seed=self.seed_generator)

    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    # -- the update rule ---------------------------------------------------------------
    def augment(self, images):
        return diff_augment(images, self.diffaug, self.seed_generator)

    def discriminate(self, real, fake):
        """D's logits for real and fake images (DiffAugment applied to both)."""
        real, fake = self.augment(real), self.augment(fake)
        if self.joint_d_pass:
            logits = self.discriminator(ops.concatenate([real, fake], axis=0), training=True)
            return ops.split(logits, 2, axis=0)
        return self.discriminator(real, training=True), self.discriminator(fake, training=True)

    def d_targets(self, batch):
        """Targets for real and fake logits: 1/0, smoothed or noisy (lsgan and bce only)."""
        if self.noisy_labels:
            real = keras.random.uniform((batch, 1), 0.7, 1.2, seed=self.seed_generator)
            fake = keras.random.uniform((batch, 1), 0.0, 0.3, seed=self.seed_generator)
            return real, fake
        return 1.0 - self.label_smoothing, 0.0

    def d_step(self, real):
        batch = ops.shape(real)[0]
        fake = self.generator(self.sample_noise(batch), training=True)
        real_target, fake_target = self.d_targets(batch)
        with tf.GradientTape() as tape:
            real_logits, fake_logits = self.discriminate(real, fake)
            per_example = losses.d_loss(self.loss_kind, real_logits, fake_logits, real_target, fake_target)
            if self.loss_kind == "wgan-gp":
                alpha = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator)
                penalty = losses.gradient_penalty(
                    lambda x: self.discriminator(x, training=True), real, fake, alpha
                )
                per_example = per_example + self.gp_weight * penalty
                self.trackers["gp"].update_state(ops.mean(penalty))
            loss = global_mean(per_example)
        weights = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        if self.clip_value is not None:
            for weight in weights:
                weight.assign(ops.clip(weight, -self.clip_value, self.clip_value))
        self.trackers["d_loss"].update_state(loss)
        self.trackers["d_real"].update_state(ops.mean(real_logits))
        self.trackers["d_fake"].update_state(ops.mean(fake_logits))

    def g_step(self, batch):
        weights = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake = self.generator(self.sample_noise(batch), training=True)
            fake_logits = self.discriminator(self.augment(fake), training=True)
            loss = global_mean(losses.g_loss(self.loss_kind, fake_logits))
        # Gradients for G's weights only: D's weight gradients are never computed here.
        self.g_optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        self.trackers["g_loss"].update_state(loss)

    def train_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data
        for _ in range(self.n_critic):
            self.d_step(real)
        self.g_step(ops.shape(real)[0])
        return {name: tracker.result() for name, tracker in self.trackers.items()}
