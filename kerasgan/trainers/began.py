"""The BEGAN trainer (Berthelot et al., 2017): an autoencoder D and proportional control.

With L(v) = |v - D(v)| (per-example mean L1 reconstruction error), every step updates both
nets once from the same batch of fakes:

    L_D = L(x) - k_t * L(G(z))          L_G = L(G(z))
    k_{t+1} = clip(k_t + lambda_k * (gamma * L(x) - L(G(z))), 0, 1)

gamma = E[L(G(z))] / E[L(x)] is the diversity ratio the control steers towards (lower:
sharper, less diverse). The convergence measure M_global = L(x) + |gamma L(x) - L(G(z))|
falls as training converges and is logged as `m_global`. k_t is a non-trainable weight of
the trainer, so checkpoints save it and --resume continues the control where it was.
"""

import keras
import tensorflow as tf
from keras import ops

from kerasgan import losses
from kerasgan.trainers.gan import GANTrainer, global_mean, replica_sum, step_logs


class BEGANTrainer(GANTrainer):
    """Trains `generator` (noise -> image) against `discriminator` (image -> reconstruction).

    Reuses GANTrainer's noise prior, DiffAugment, optimizers and step counting; the update
    rule is BEGAN's own.
    """

    # One update of each net per step, both on the step's one real batch.
    real_batches_per_step = 1

    def __init__(self, generator, discriminator, gamma=0.5, lambda_k=1e-3, k_initial=0.0, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.gamma = gamma
        self.lambda_k = lambda_k
        self.k = self.add_weight(shape=(), initializer=keras.initializers.Constant(k_initial),
                                 trainable=False, name="k")
        names = ["d_loss", "g_loss", "loss_real", "loss_fake", "k", "m_global"]
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    def reconstruction_errors(self, real, fake):
        """L(x) and L(G(z)) averaged over the batch (one pass of D over both unless D couples
        the examples of a batch, as with a minibatch standard deviation)."""
        real, fake = self.augment(real), self.augment(fake)
        real_rebuilt, fake_rebuilt = self.critic_groups([real, fake], [None, None])
        return global_mean(losses.l1(real, real_rebuilt)), global_mean(losses.l1(fake, fake_rebuilt))

    def next_k(self, loss_real, loss_fake):
        return ops.clip(self.k + self.lambda_k * (self.gamma * loss_real - loss_fake), 0.0, 1.0)

    def train_step(self, data):
        real, _ = self.unpack(data)
        noise = self.sample_noise(ops.shape(real)[0])
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.generator(noise, training=True)
            loss_real, loss_fake = self.reconstruction_errors(real, fake)
            d_loss = loss_real - self.k * loss_fake
            g_loss = loss_fake
        # Each tape differentiates with respect to its own net only, so the fakes need no
        # stop_gradient: D's update sees L(G(z)) through D's weights alone.
        self.update_discriminator(d_tape, d_loss)
        self.update_generator(g_tape, g_loss)
        # The losses above are this replica's shares (gradients are summed over replicas);
        # the control and the logs need the global batch's values, the same on every replica.
        d_loss_global = replica_sum(d_loss)  # uses k_t before its update, as the gradient did
        loss_real, loss_fake = replica_sum(loss_real), replica_sum(loss_fake)
        self.k.assign(self.next_k(loss_real, loss_fake))
        measure = loss_real + ops.abs(self.gamma * loss_real - loss_fake)
        for name, value in (("d_loss", d_loss_global), ("g_loss", loss_fake), ("loss_real", loss_real),
                            ("loss_fake", loss_fake), ("k", self.k), ("m_global", measure)):
            self.trackers[name].update_state(value)
        return step_logs(self.trackers)
