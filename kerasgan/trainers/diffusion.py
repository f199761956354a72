"""Denoising diffusion (DDPM training, DDIM sampling): noise schedules, samplers, the trainer.

Notation (Ho et al. 2020; Song et al. 2021): T timesteps t = 0 .. T-1, betas beta_t,
alpha_bar_t = prod_{i <= t} (1 - beta_i). Training noises an image x0 to

    x_t = sqrt(alpha_bar_t) * x0 + sqrt(1 - alpha_bar_t) * eps,        eps ~ N(0, I)

and regresses the network's output on eps ("eps" prediction) or on
v = sqrt(alpha_bar_t) * eps - sqrt(1 - alpha_bar_t) * x0 ("v" prediction, Salimans & Ho
2022) with a mean squared error. Sampling walks back from pure noise x_{T-1} with DDIM
steps t -> s on any decreasing subsequence of the timesteps; the step count is chosen at
sampling time. DDIM with eta = 1 over all T steps is DDPM's ancestral sampler.

Everything below the trainer is a small function of tensors (numpy in, tensors out), so
the tests check it against hand computations and the SavedModel export runs the same
sampler inside its graph.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kerasgan.trainers.gan import (apply_loss, draw_for_replica, global_mean, replica_sum, saved_seed_generator,
                                   step_logs)

NOISE_SCHEDULES = ("linear", "cosine")
PREDICTIONS = ("eps", "v")


# -- noise schedules -----------------------------------------------------------------------
def linear_betas(timesteps, beta_start=1e-4, beta_end=0.02):
    """DDPM's betas, linear from 1e-4 to 0.02 at T = 1000; scaled by 1000 / T for other T so
    the schedule keeps its shape (Nichol & Dhariwal 2021)."""
    scale = 1000.0 / timesteps
    return np.linspace(beta_start * scale, beta_end * scale, timesteps, dtype=np.float64)


def cosine_alpha_bar_closed_form(t, timesteps, s=0.008):
    """f(t) / f(0) with f(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2), t in [0, T]."""
    f = lambda u: np.cos((np.asarray(u, np.float64) / timesteps + s) / (1 + s) * np.pi / 2) ** 2  # noqa: E731
    return f(t) / f(0)


def cosine_betas(timesteps, s=0.008, max_beta=0.999):
    """Nichol & Dhariwal's cosine schedule: beta_t = 1 - abar(t + 1) / abar(t), clipped at
    0.999 (only the last steps, where abar reaches 0)."""
    alpha_bar = cosine_alpha_bar_closed_form(np.arange(timesteps + 1), timesteps, s)
    return np.minimum(1.0 - alpha_bar[1:] / alpha_bar[:-1], max_beta)


def alpha_bar_schedule(name, timesteps):
    """alpha_bar_t for t = 0 .. T-1 (float64 numpy), decreasing from about 1 to about 0."""
    if name == "linear":
        betas = linear_betas(timesteps)
    elif name == "cosine":
        betas = cosine_betas(timesteps)
    else:
        raise ValueError(f"unknown noise schedule {name!r}; choose one of {NOISE_SCHEDULES}")
    return np.cumprod(1.0 - betas)


# -- the training objective ----------------------------------------------------------------
def _broadcast(alpha_bar_t):
    """[B] -> [B, 1, 1, 1] (scalars stay scalars)."""
    alpha_bar_t = ops.convert_to_tensor(alpha_bar_t, "float32")
    return ops.reshape(alpha_bar_t, (-1, 1, 1, 1)) if len(alpha_bar_t.shape) == 1 else alpha_bar_t


def noised_and_target(x0, noise, alpha_bar_t, prediction="eps"):
    """(x_t, the regression target) for clean images x0, noise eps and alpha_bar_t [B]."""
    a = ops.sqrt(_broadcast(alpha_bar_t))
    s = ops.sqrt(1.0 - _broadcast(alpha_bar_t))
    x_t = a * x0 + s * noise
    if prediction == "eps":
        return x_t, noise
    if prediction == "v":
        return x_t, a * noise - s * x0
    raise ValueError(f"unknown prediction {prediction!r}; choose one of {PREDICTIONS}")


def denoising_loss(output, target):
    """Per-example mean squared error [B] (averaged over pixels and channels)."""
    return ops.mean(ops.square(ops.cast(output, "float32") - ops.cast(target, "float32")), axis=(1, 2, 3))


# -- sampling ------------------------------------------------------------------------------
def predicted_x0_and_eps(x_t, output, alpha_bar_t, prediction="eps", clip=True):
    """The network's estimate of the clean image (clipped to [-1, 1]) and of the noise
    consistent with it: eps = (x_t - sqrt(abar) x0) / sqrt(1 - abar)."""
    a = tf.sqrt(_broadcast(alpha_bar_t))
    s = tf.sqrt(1.0 - _broadcast(alpha_bar_t))
    output = tf.cast(output, tf.float32)
    x0 = (x_t - s * output) / a if prediction == "eps" else a * x_t - s * output
    if clip:
        x0 = tf.clip_by_value(x0, -1.0, 1.0)
    return x0, (x_t - a * x0) / s


def ddim_step(x_t, output, alpha_bar_t, alpha_bar_s, prediction="eps", eta=0.0, noise=None):
    """One DDIM update x_t -> x_s (s < t; alpha_bar_s = 1 for the final step to x0):

        x_s = sqrt(abar_s) x0 + sqrt(1 - abar_s - sigma^2) eps + sigma z,
        sigma = eta sqrt((1 - abar_s) / (1 - abar_t)) sqrt(1 - abar_t / abar_s)

    eta = 0 is deterministic (`noise` unused); eta = 1 with s = t - 1 is DDPM's step.
    """
    x_t = tf.convert_to_tensor(x_t, tf.float32)
    x0, eps = predicted_x0_and_eps(x_t, output, alpha_bar_t, prediction)
    ab_t, ab_s = _broadcast(alpha_bar_t), _broadcast(alpha_bar_s)
    sigma = eta * tf.sqrt((1.0 - ab_s) / (1.0 - ab_t)) * tf.sqrt(1.0 - ab_t / ab_s)
    x_s = tf.sqrt(ab_s) * x0 + tf.sqrt(tf.maximum(1.0 - ab_s - sigma ** 2, 0.0)) * eps
    if noise is not None:
        x_s += sigma * noise
    return x_s


def ddim_timesteps(steps, timesteps):
    """`steps` timesteps evenly spaced from T-1 down to 0 (int32, distinct while steps <= T)."""
    return tf.cast(tf.round(tf.linspace(float(timesteps - 1), 0.0, steps)), tf.int32)


def ddim_sample(denoise, noise, alpha_bar, steps, prediction="eps", eta=0.0, seed=0):
    """Images in [-1, 1] from `noise` (x_{T-1}, [B, H, W, C]) in `steps` DDIM steps.

    `denoise(x_t, t)` is the network (t an int32 [B]); `alpha_bar` the schedule [T]; `steps`
    may be a tensor (a tf.while_loop runs the steps, inside a graph or eagerly); `seed`
    (int) seeds the fresh noise of the stochastic steps when eta > 0.
    """
    alpha_bar = tf.constant(np.asarray(alpha_bar), tf.float32)
    timesteps = alpha_bar.shape[0]
    times = ddim_timesteps(steps, timesteps)
    after = tf.concat([times[1:], [-1]], axis=0)  # -1: the clean image, alpha_bar 1
    alpha_bar_or_one = tf.concat([alpha_bar, [1.0]], axis=0)  # index -1 wraps to T: the 1
    x = tf.convert_to_tensor(noise, tf.float32)
    batch = tf.shape(x)[0]

    def body(i, x):
        t, s = times[i], after[i]
        ab_t = tf.gather(alpha_bar, t)
        ab_s = tf.gather(alpha_bar_or_one, tf.where(s < 0, timesteps, s))
        output = denoise(x, tf.fill([batch], t))
        z = None
        if eta:
            z = tf.random.stateless_normal(tf.shape(x), tf.stack([tf.cast(seed, tf.int64), tf.cast(i, tf.int64)]))
        return i + 1, ddim_step(x, output, ab_t, ab_s, prediction, eta, z)

    _, x = tf.while_loop(lambda i, x: i < tf.size(times), body, (tf.constant(0), x))
    return x


def ddpm_sample(denoise, noise, alpha_bar, prediction="eps", seed=0):
    """DDPM's ancestral sampler: all T steps with the posterior variance (DDIM, eta = 1)."""
    return ddim_sample(denoise, noise, alpha_bar, len(alpha_bar), prediction, eta=1.0, seed=seed)


# -- the trainer ---------------------------------------------------------------------------
class DiffusionTrainer(keras.Model):
    """Trains `network` ([x_t, t] -> eps or v) by denoising, keeping an EMA copy to sample with.

    `ema_network` has the same architecture; its weights are non-trainable variables updated
    after every step as ema = d * ema + (1 - d) * w, with the warm-up
    d = min(ema_decay, (1 + n) / (10 + n)) at step n, so short runs do not sample from
    mostly initial weights. Both networks, the optimizer and the SeedGenerator that draws
    t and the noise are in `save_weights`, so checkpoints resume exactly.
    """

    def __init__(self, network, ema_network, schedule="cosine", timesteps=1000, prediction="eps",
                 ema_decay=0.999, seed=0, **kwargs):
        super().__init__(**kwargs)
        if prediction not in PREDICTIONS:
            raise ValueError(f"unknown prediction {prediction!r}; choose one of {PREDICTIONS}")
        self.network = network
        self.ema_network = ema_network
        self.ema_network.trainable = False
        self.schedule = schedule
        self.timesteps = int(timesteps)
        self.prediction = prediction
        self.ema_decay = float(ema_decay)
        self.alpha_bar_numpy = alpha_bar_schedule(schedule, self.timesteps)
        self.alpha_bar = tf.constant(self.alpha_bar_numpy, tf.float32)
        self.seed_generator = saved_seed_generator(self, seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.copy_to_ema()
        self.built = True  # the networks are built; tf.distribute needs this (see scale.py)
        self._samplers = {}  # eta -> traced DDIM sampler

    def compile(self, optimizer, jit_compile=True, **kwargs):
        # optimizer=None: otherwise Keras creates an unused RMSprop that shows up in logs.
        super().compile(optimizer=None, jit_compile=jit_compile, **kwargs)
        self.denoiser_optimizer = optimizer
        optimizer.build(self.network.trainable_weights)  # built now so checkpoints restore before step 1

    @property
    def metrics(self):
        return []  # as GAN trainers' (trainers/gan.py, TwoOptimizerTrainer.metrics)

    @property
    def step(self):
        """Completed training steps (optimizer updates)."""
        return self.denoiser_optimizer.iterations

    def copy_to_ema(self):
        for ema, weight in zip(self.ema_network.weights, self.network.weights):
            ema.assign(weight)

    def call(self, inputs, training=False):
        images, timesteps = inputs
        return self.network([images, timesteps], training=training)

    def train_step(self, images):
        if isinstance(images, (tuple, list)):
            images = images[0]
        images = ops.cast(images, "float32")
        batch = ops.shape(images)[0]
        t = draw_for_replica(lambda n: keras.random.randint((n,), 0, self.timesteps, seed=self.seed_generator),
                             batch)
        noise = draw_for_replica(lambda n: keras.random.normal((n, *images.shape[1:]), seed=self.seed_generator),
                                 batch)
        x_t, target = noised_and_target(images, noise, ops.take(self.alpha_bar, t), self.prediction)
        weights = self.network.trainable_weights
        with tf.GradientTape() as tape:
            output = self.network([x_t, ops.cast(t, "float32")], training=True)
            loss = global_mean(denoising_loss(output, target))
        apply_loss(self.denoiser_optimizer, tape, loss, weights)
        self.update_ema()
        self.loss_tracker.update_state(replica_sum(loss))
        return step_logs({"loss": self.loss_tracker})

    def update_ema(self):
        n = ops.cast(self.denoiser_optimizer.iterations, "float32")
        decay = ops.minimum(self.ema_decay, (1.0 + n) / (10.0 + n))
        for ema, weight in zip(self.ema_network.weights, self.network.weights):
            ema.assign(decay * ema + (1.0 - decay) * ops.cast(weight, ema.dtype))

    # -- sampling with the EMA weights -------------------------------------------------
    def denoise(self, x_t, t, network=None):
        """The (EMA) network's output for x_t at int timesteps t [B], float32."""
        network = network or self.ema_network
        return tf.cast(network([x_t, tf.cast(t, tf.float32)], training=False), tf.float32)

    def sample(self, noise, steps=50, eta=0.0, seed=0):
        """Images in [-1, 1] from `noise` [B, H, W, 3] by DDIM with the EMA weights (a traced
        tf.function: a new batch size or step count does not retrace)."""
        if not 1 <= int(steps) <= self.timesteps:
            raise ValueError(f"steps must be in 1 .. {self.timesteps}, got {steps}")
        eta = float(eta)
        if eta not in self._samplers:
            spec = tf.TensorSpec([None, *self.network.input[0].shape[1:]], tf.float32)

            @tf.function(input_signature=[spec, tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int64)])
            def run(noise, steps, seed):
                return ddim_sample(self.denoise, noise, self.alpha_bar_numpy, steps, self.prediction,
                                   eta=eta, seed=seed)

            self._samplers[eta] = run
        return self._samplers[eta](tf.convert_to_tensor(noise, tf.float32), tf.constant(int(steps)),
                                   tf.constant(int(seed), tf.int64))
