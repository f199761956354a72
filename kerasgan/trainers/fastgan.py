"""The FastGAN trainer (Liu et al., ICLR 2021): a GAN whose D also learns to redraw real images.

Every step, from one batch of fakes:

    D: L_D = hinge(D(aug(x)), D(aug(G(z)))) + rec(x) ,   rec(x) = ssim_l1(x_R, dec_1(f_8))
                                                                 + ssim_l1(crop_k(x)_P, dec_2(crop_k(f_16)))
    G: L_G = -D(aug(G(z)))                                   (the same fakes, under the updated D)

D's 8x8 features f_8 must hold enough of a real image for a small decoder to redraw it,
and its 16x16 features f_16 enough for one random quarter (k per image) to be redrawn
from the same quarter of them. That self-supervision keeps D describing the images rather
than memorising a few-shot training set. aug is DiffAugment (colour, translation, cutout
by default), with an adaptive probability under --ada; the reconstruction targets are the
augmented reals, area-downsampled to the decoders' sizes (nets/fastgan.py).

The paper scores reconstructions with LPIPS, a distance between deep features of an
ImageNet VGG. Those weights cannot be downloaded here, so rec uses the SSIM + L1 mix of Zhao
et al. (2017), 0.84 (1 - SSIM) + 0.16 L1 (kerasgan.losses.ssim_l1): SSIM compares local
means, contrasts and correlations in 11x11 windows, so like LPIPS, and unlike L1 alone, it
scores structure and texture rather than exact pixel values, and Zhao et al. found it
closer to perceived quality than L1 or L2. A feature loss measured by D itself was the other
candidate; it was not taken because D minimises this loss, so D could shrink the very
features that measure it (or would need a second, frozen copy of itself).

D's weights here are the discriminator's and the decoders'. The hinge, non-saturating (bce)
and least squares losses work; one D update per G update, as the paper.
"""

import keras
import tensorflow as tf
from keras import ops

from kerasgan import losses
from kerasgan.replicas import draw_for_replica, replica_sum
from kerasgan.trainers.gan import GANTrainer, apply_loss, global_mean, step_logs

FASTGAN_LOSSES = ("hinge", "bce", "lsgan")


def quarter(x, part):
    """The quarter `part` of each image or feature map, [B, H, W, C] and int [B] -> [B, H/2, W/2, C]:
    0 top left, 1 top right, 2 bottom left, 3 bottom right."""
    height, width, channels = x.shape[1] // 2, x.shape[2] // 2, x.shape[3]
    quarters = ops.reshape(x, (-1, 2, height, 2, width, channels))
    quarters = ops.reshape(ops.transpose(quarters, (0, 1, 3, 2, 4, 5)), (-1, 4, height, width, channels))
    return tf.gather(quarters, part, axis=1, batch_dims=1)


def downsample(images, size):
    """Images [B, S, S, C] averaged over (S / size)^2 blocks: [B, size, size, C]."""
    factor = images.shape[1] // size
    return images if factor == 1 else ops.average_pool(images, factor, factor, "valid")


def reconstruction_loss(real, part, rebuilt):
    """D's self-supervised loss per example [B]: `rebuilt` {"image", "part"} (the decoders'
    outputs) against the real image and its quarter `part`, each area-downsampled to the
    decoder's size, scored by ssim_l1 (the stand-in for the paper's LPIPS, see above)."""
    real = ops.cast(real, "float32")
    whole = downsample(real, rebuilt["image"].shape[1])
    piece = downsample(quarter(real, part), rebuilt["part"].shape[1])
    return losses.ssim_l1(whole, rebuilt["image"]) + losses.ssim_l1(piece, rebuilt["part"])


class FastGANTrainer(GANTrainer):
    """Trains a FastGAN `generator` against `discriminator` (image -> {"logit", "features_8",
    "features_16"}) and its `decoders` (nets/fastgan.py).

    GANTrainer's pieces are reused: noise, DiffAugment and ADA (`augment`), targets, the EMA
    of G and ADA's p update (`update_generator`), the logged values (`track_d`).
    """

    def __init__(self, generator, discriminator, decoders, loss="hinge", **kwargs):
        if loss not in FASTGAN_LOSSES:
            raise ValueError(f"FastGAN trains with one of {FASTGAN_LOSSES}, not {loss!r}")
        if kwargs.get("n_critic", 1) != 1 or kwargs.get("r1"):
            raise ValueError("FastGAN updates D once per G update, without an R1 penalty")
        super().__init__(generator, discriminator, loss=loss, **kwargs)
        self.decoders = decoders
        self.trackers["reconstruction"] = keras.metrics.Mean(name="reconstruction")

    @property
    def discriminator_weights(self):
        return self.discriminator.trainable_variables + self.decoders.trainable_variables

    def critic(self, images, labels=None):
        return self.discriminator(images, training=True)["logit"]

    def train_step(self, data):
        real, _ = self.unpack(data)
        batch = ops.shape(real)[0]
        noise = self.sample_noise(batch)
        # Which quarter of each real image D's second decoder redraws.
        part = draw_for_replica(lambda n: keras.random.randint((n,), 0, 4, seed=self.seed_generator), batch)
        real_target, fake_target = self.d_targets(batch)

        with tf.GradientTape() as g_tape:
            fake = self.generator(noise, training=True)
            # D's update, kept off G's tape: the adversarial loss on augmented real and fake
            # images, plus redrawing the augmented real image and a quarter of it.
            with g_tape.stop_recording():
                with tf.GradientTape() as d_tape:
                    real = self.augment(real)
                    real_out = self.discriminator(real, training=True)
                    fake_logits = self.critic(self.augment(fake))
                    rebuilt = self.decoders({"features_8": real_out["features_8"],
                                             "part_features": quarter(real_out["features_16"], part)}, training=True)
                    adversarial = losses.d_loss(self.loss_kind, real_out["logit"], fake_logits, real_target,
                                                fake_target)
                    reconstruction = reconstruction_loss(real, part, rebuilt)
                    d_loss = global_mean(adversarial + reconstruction)
                apply_loss(self.d_optimizer, d_tape, d_loss, self.discriminator_weights)
                self.track_d(d_loss, real_out["logit"], fake_logits)
            # G's update: the same fakes, augmented afresh, scored by the updated D.
            g_loss = global_mean(losses.g_loss(self.loss_kind, self.critic(self.augment(fake)), self.g_target))
        self.update_generator(g_tape, g_loss)

        self.trackers["g_loss"].update_state(replica_sum(g_loss))
        self.trackers["reconstruction"].update_state(replica_sum(global_mean(reconstruction)))
        return step_logs(self.trackers)
