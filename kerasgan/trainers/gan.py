"""The adversarial-pair trainer: one generator, one discriminator, one update rule.

Covers least squares, non-saturating BCE, hinge, WGAN with weight clipping and WGAN-GP,
with n_critic discriminator updates per generator update, LSGAN's a/b/c targets, one-sided
label smoothing, noisy labels, the R1 penalty on real images and DiffAugment, always or with
an adaptive probability (ADA, augment/ada.py). Subclasses
(conditional, InfoGAN) reuse the pieces of the update: `draw_codes`, `generate`, `critic`,
`discriminate_groups`, `penalty`, `d_update`, `generator_loss`. `train_step` is XLA-compiled
unless `compile(jit_compile=False)`; the CLIs turn XLA off on CPUs, where graph mode is faster
(`--xla auto`).
"""

import keras
import tensorflow as tf
from keras import ops

from kerasgan import losses
from kerasgan.augment.diffaug import diff_augment
from kerasgan.latent import LATENT_PRIORS
from kerasgan.nets.layers import MinibatchStdDev
from kerasgan.replicas import draw_for_replica, replica_mean, replica_sum  # noqa: F401 (subclasses import these from here)
from kerasgan.trainers.ema import averaged_copy, check_decay, update_average

# Least squares targets (a, b, c): D pushes fake to a and real to b, G pushes fake to c.
# (0, 1, 1) is the 0-1 coding; (-1, 1, 0) makes the objective a Pearson chi^2 divergence.
LSGAN_TARGETS = (0.0, 1.0, 1.0)


def global_mean(per_example):
    """Sum over the local batch divided by the *global* batch size.

    Under a tf.distribute strategy the replicas' gradients are summed, so dividing by the
    global batch makes the result equal to the single-device mean. The value itself is this
    replica's share of that mean: log `replica_sum` of it.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    batch = ops.cast(ops.shape(per_example)[0] * replicas, per_example.dtype)
    return ops.sum(per_example) / batch


def step_logs(trackers):
    """The step's own values of `trackers` ({name: keras.metrics.Mean}), which are then cleared.

    Keras clears metrics only when an epoch starts, so returning `result()` alone would log
    the mean since an arbitrary epoch boundary, which also shifts after a resume. A tracker
    updated several times in one step (n_critic D updates) gives the mean over that step.
    """
    logs = {name: tracker.result() for name, tracker in trackers.items()}
    for tracker in trackers.values():
        tracker.reset_state()
    return logs


def saved_seed_generator(model, seed):
    """A SeedGenerator owned by `model` whose state goes into its checkpoints.

    Keras tracks seed generators but does not save their state with save_weights; without
    it a resumed run would draw different noise than an uninterrupted one.
    """
    generator = keras.random.SeedGenerator(seed)
    model._track_variable(generator.state)
    return generator


def apply_loss(optimizer, tape, loss, weights):
    """One `optimizer` step on `weights` down the gradient of `loss`, recorded on `tape`.

    Under mixed_float16 the optimizer is a LossScaleOptimizer: the loss is multiplied by
    the loss scale on the tape (a product taken after the tape stopped would have no
    gradient) and the optimizer divides it out of the gradients. Elsewhere the scale is 1.
    """
    with tape:
        scaled = optimizer.scale_loss(loss)
    optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))


def mixes_examples(model):
    """Whether an example's output depends on the rest of its batch (batch norm in training,
    a minibatch standard deviation), so batches must not be concatenated into one call."""
    return any(isinstance(layer, (keras.layers.BatchNormalization, MinibatchStdDev)) for layer in model._flatten_layers())


def noise_dim_of(generator):
    """The width of G's noise input, for plain (noise -> image) and dict-input generators."""
    inputs = generator.input
    noise = inputs["noise"] if isinstance(inputs, dict) else inputs
    return noise.shape[-1]


def concat_batches(parts):
    """Concatenates tensors (or dicts of tensors) along the batch axis; None stays None."""
    if parts[0] is None:
        return None
    return keras.tree.map_structure(lambda *tensors: ops.concatenate(tensors, axis=0), *parts)


def split_batch(outputs, parts):
    """Cuts a tensor (or every tensor of a dict) into `parts` equal slices along the batch axis."""
    size = ops.shape(keras.tree.flatten(outputs)[0])[0] // parts

    def piece(i):
        return keras.tree.map_structure(lambda t: t[i * size:(i + 1) * size], outputs)

    return [piece(i) for i in range(parts)]


def critic_slices(batch, parts):
    """`parts` equal real batches for the critic updates of one step, cut from one batch.

    Slice i holds rows i, i + parts, i + 2 * parts, ... (the remainder of a batch that does
    not divide is left out). Interleaved rather than contiguous so that the slices stay the
    same under tf.distribute: each replica receives a contiguous chunk of the global batch,
    and row i + parts * k of replica r's chunk is row i + parts * (r * B / N + k) of the
    global batch, so the N replicas' slice i together are exactly one device's slice i, in
    the order draw_for_replica deals out the noise. Works on tensors and dicts of tensors.
    """
    if parts == 1:
        return [batch]
    size = ops.shape(keras.tree.flatten(batch)[0])[0] // parts

    def piece(i):
        return keras.tree.map_structure(lambda t: t[i:i + parts * size:parts], batch)

    return [piece(i) for i in range(parts)]


class TwoOptimizerTrainer(keras.Model):
    """What every kerasgan trainer shares: a generator side and a discriminator side, each
    with its own optimizer, `keras.metrics.Mean` trackers, and a step counter.

    Subclasses define `generator_weights`, `discriminator_weights`, `self.trackers` and
    `train_step`.
    """

    def compile(self, g_optimizer, d_optimizer, jit_compile=True, **kwargs):
        # optimizer=None: otherwise Keras creates an unused RMSprop that shows up in logs.
        super().compile(optimizer=None, jit_compile=jit_compile, **kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        # Built now so checkpoints can be restored before the first step.
        g_optimizer.build(self.generator_weights)
        d_optimizer.build(self.discriminator_weights)

    @property
    def metrics(self):
        # None for Keras: the trackers are cleared every step (`step_logs`), and at an epoch's
        # end Keras would log their (cleared) results in place of the last step's values.
        return []

    # How many real batches one training step consumes; the recipe multiplies the pipeline's
    # batch size by it. Trainers that draw a fresh real batch per critic update say more.
    real_batches_per_step = 1

    @property
    def step(self):
        """Completed training steps (generator updates)."""
        return self.g_optimizer.iterations


class GANTrainer(TwoOptimizerTrainer):
    """Trains `generator` (noise -> image) against `discriminator` (image -> logits)."""

    def __init__(self, generator, discriminator, loss="lsgan", n_critic=1, gp_weight=10.0, gp_center=1.0,
                 clip_value=0.01, diffaug=(), label_smoothing=0.0, noisy_labels=False,
                 latent="normal", seed=None, lsgan_targets=LSGAN_TARGETS, ema=0.0, r1=0.0, ada=None, **kwargs):
        super().__init__(**kwargs)
        if loss not in losses.ADVERSARIAL_LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {losses.ADVERSARIAL_LOSSES}")
        if latent not in LATENT_PRIORS:
            raise ValueError(f"unknown latent prior {latent!r}; choose one of {LATENT_PRIORS}")
        self.generator = generator
        self.discriminator = discriminator
        self.noise_dim = noise_dim_of(generator)
        self.loss_kind = loss
        self.n_critic = n_critic
        self.gp_weight = gp_weight
        self.gp_center = gp_center
        if r1 and loss in ("wgan", "wgan-gp"):
            raise ValueError(f"the R1 penalty is for the lsgan, bce and hinge losses, not {loss}")
        self.r1 = r1
        self.clip_value = clip_value if loss == "wgan" else None
        self.diffaug = tuple(diffaug)
        self.label_smoothing = label_smoothing
        self.noisy_labels = noisy_labels
        self.latent = latent
        # Targets (fake, real, generator); only least squares lets them differ from 0, 1, 1.
        self.fake_target, self.real_target, self.g_target = (
            tuple(float(t) for t in lsgan_targets) if loss == "lsgan" else LSGAN_TARGETS
        )
        self.seed_generator = saved_seed_generator(self, seed)
        # An exponential moving average of G's weights (0: none), updated after each G step.
        self.ema = check_decay(ema)
        self.ema_generator = averaged_copy(generator) if ema else None
        # Adaptive augmentation (an augment.ada.AdaptiveAugment, or None): the DiffAugment
        # policies then apply with its probability p, which D's real logits steer.
        self.ada = ada
        # Real and fake go through D in one concatenated call unless D's batch norm or
        # minibatch deviation would then mix their statistics (which changes what D learns).
        self.joint_d_pass = not mixes_examples(discriminator)
        names = (["d_loss", "g_loss", "d_real", "d_fake"] + (["gp"] if loss == "wgan-gp" else [])
                 + (["r1"] if r1 else []) + (["ada_p", "ada_r"] if ada is not None else []))
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        # The sub-models are built already; without this Keras refuses to save weights.
        self.built = True

    @property
    def real_batches_per_step(self):
        """Real batches per step: one per critic update, as WGAN and WGAN-GP's algorithms
        draw a fresh real batch for each of the n_critic updates. The pipeline's batch is
        this many times the batch size; `train_step` deals it out with `critic_slices`."""
        return max(self.n_critic, 1)

    @property
    def generator_weights(self):
        return self.generator.trainable_variables

    @property
    def discriminator_weights(self):
        return self.discriminator.trainable_variables

    @property
    def sampling_generator(self):
        """The generator that samples, FID and exports use: the EMA one when EMA is on."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def sample_noise(self, batch_size):
        def draw(n):
            if self.latent == "uniform":
                return keras.random.uniform((n, self.noise_dim), -1.0, 1.0, seed=self.seed_generator)
            return keras.random.normal((n, self.noise_dim), seed=self.seed_generator)

        return draw_for_replica(draw, batch_size)

    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    # -- the update rule ---------------------------------------------------------------
    def augment(self, images):
        probability = self.ada.p if self.ada is not None else None
        return diff_augment(images, self.diffaug, self.seed_generator, probability)

    def generate(self, noise, labels=None):
        """G's images for a noise batch (conditional trainers also pass `labels`)."""
        return self.generator(noise, training=True)

    def critic(self, images, labels=None):
        """D's outputs for images as given (conditional trainers also pass `labels`)."""
        return self.discriminator(images, training=True)

    def discriminate(self, real, fake, labels=None):
        """D's logits for real and fake images (DiffAugment applied to both)."""
        return self.discriminate_groups([real, fake], [labels, labels])

    def discriminate_groups(self, images, labels):
        """D's outputs for each group of images (with its labels), augmented per group."""
        return self.critic_groups([self.augment(x) for x in images], labels)

    def critic_groups(self, images, labels):
        """D's outputs for each group of images as given.

        One concatenated call unless D has batch norm or a minibatch deviation, which would
        then mix the groups' statistics (and change what D learns).
        """
        if self.joint_d_pass:
            outputs = self.critic(concat_batches(images), concat_batches(labels))
            return split_batch(outputs, len(images))
        return [self.critic(x, y) for x, y in zip(images, labels)]

    def d_targets(self, batch):
        """Targets for real and fake logits: 1/0 (LSGAN: b/a), smoothed or noisy (lsgan, bce)."""
        if self.noisy_labels:
            real = draw_for_replica(lambda n: keras.random.uniform((n, 1), 0.7, 1.2, seed=self.seed_generator), batch)
            fake = draw_for_replica(lambda n: keras.random.uniform((n, 1), 0.0, 0.3, seed=self.seed_generator), batch)
            return real, fake
        return self.real_target - self.label_smoothing, self.fake_target

    def penalty(self, real, fake, critic):
        """D's gradient penalty per example [B]: gp_weight * WGAN-GP's (slope pulled to
        gp_center), or r1 / 2 * R1's, or 0 when neither is on.

        `critic` maps images to logits [B, 1].
        """
        if self.r1:
            penalty = losses.r1_penalty(critic, real)
            self.trackers["r1"].update_state(replica_mean(ops.mean(penalty)))
            return 0.5 * self.r1 * penalty
        if self.loss_kind != "wgan-gp":
            return 0.0
        alpha = draw_for_replica(lambda n: keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator),
                                 ops.shape(real)[0])
        penalty = losses.gradient_penalty(critic, real, fake, alpha, self.gp_center)
        self.trackers["gp"].update_state(replica_mean(ops.mean(penalty)))
        return self.gp_weight * penalty

    def update_discriminator(self, tape, loss):
        """One optimizer step on D's weights, then WGAN's weight clipping to [-c, c]."""
        apply_loss(self.d_optimizer, tape, loss, self.discriminator.trainable_variables)
        if self.clip_value is not None:
            self.clip_discriminator()

    def clip_discriminator(self):
        for weight in self.discriminator.trainable_variables:
            weight.assign(ops.clip(weight, -self.clip_value, self.clip_value))

    def update_generator(self, tape, loss):
        # Gradients for G's weights only: D's weight gradients are never computed here.
        apply_loss(self.g_optimizer, tape, loss, self.generator.trainable_variables)
        if self.ema_generator is not None:
            update_average(self.ema_generator, self.generator, self.ema, self.g_optimizer.iterations)
        if self.ada is not None:  # once per step, as G updates once per step
            self.ada.adjust(self.g_optimizer.iterations)
            self.trackers["ada_p"].update_state(self.ada.p)

    def track_d(self, loss, real_logits, fake_logits):
        """Logs the global batch's values on every replica (one device's numbers)."""
        self.trackers["d_loss"].update_state(replica_sum(loss))
        self.trackers["d_real"].update_state(replica_mean(ops.mean(real_logits)))
        self.trackers["d_fake"].update_state(replica_mean(ops.mean(fake_logits)))
        if self.ada is not None:
            self.trackers["ada_r"].update_state(self.ada.observe(real_logits))

    def draw_codes(self, batch, labels=None):
        """What G is given besides noise: the batch's labels here (None when unconditional);
        InfoGAN draws its latent codes."""
        return labels

    def d_step(self, real, labels=None):
        """One D update on fakes drawn for it."""
        batch = ops.shape(real)[0]
        codes = self.draw_codes(batch, labels)
        self.d_update(real, labels, self.generate(self.sample_noise(batch), codes), codes)

    def d_update(self, real, labels, fake, codes):
        """One D update: real images (with their labels) against `fake`, drawn for `codes`."""
        real_target, fake_target = self.d_targets(ops.shape(real)[0])
        with tf.GradientTape() as tape:
            real_logits, fake_logits = self.discriminate(real, fake, labels)
            per_example = losses.d_loss(self.loss_kind, real_logits, fake_logits, real_target, fake_target)
            per_example = per_example + self.penalty(real, fake, lambda x: self.critic(x, labels))
            loss = global_mean(per_example)
        self.update_discriminator(tape, loss)
        self.track_d(loss, real_logits, fake_logits)

    def generator_loss(self, fake, codes):
        """G's loss for its images `fake`, drawn for `codes`, under the current D."""
        fake_logits = self.critic(self.augment(fake), codes)
        loss = global_mean(losses.g_loss(self.loss_kind, fake_logits, self.g_target))
        self.trackers["g_loss"].update_state(replica_sum(loss))
        return loss

    def fused_step(self, real, labels=None):
        """The last D update and the G update from one forward pass of G.

        As in the PyTorch DCGAN example, D learns from this batch of fakes, then G's loss
        scores the same fakes under the updated D, so G runs forward once per step instead of
        twice. The D update is kept off G's tape, which therefore records only G's forward and
        D's forward on the fakes: G's gradients need no D weight gradients.
        """
        batch = ops.shape(real)[0]
        codes = self.draw_codes(batch, labels)
        noise = self.sample_noise(batch)
        with tf.GradientTape() as tape:
            fake = self.generate(noise, codes)
            with tape.stop_recording():
                self.d_update(real, labels, fake, codes)
            loss = self.generator_loss(fake, codes)
        self.update_generator(tape, loss)

    def unpack(self, data):
        """(real images, labels) of a batch; an unconditional trainer ignores any labels."""
        real = data[0] if isinstance(data, (tuple, list)) else data
        return real, None

    def train_step(self, data):
        """n_critic D updates, each on its own slice of the real batch (which holds
        `real_batches_per_step` batches), then G's update with the last D update's fakes."""
        real, labels = self.unpack(data)
        parts = self.real_batches_per_step
        reals = critic_slices(real, parts)
        label_parts = critic_slices(labels, parts) if labels is not None else [None] * parts
        for i in range(self.n_critic - 1):
            self.d_step(reals[i], label_parts[i])
        self.fused_step(reals[-1], label_parts[-1])
        if self.clip_value is not None:
            # Spectral normalization writes W / sigma into D's kernels on every training call,
            # the G step's included: clip again so every step ends inside [-c, c].
            self.clip_discriminator()
        return step_logs(self.trackers)
