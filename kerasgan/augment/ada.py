"""Adaptive augmentation (Karras et al., 2020, "Training Generative Adversarial Networks with
Limited Data"): an augmentation probability p steered by how sure D is of the real images.

D overfits a small training set by growing confident on its images: the share of real
images it scores positive climbs. ADA watches

    r_t = E[sign(D(x_real))]

over the real images D saw in the last `interval` steps, and moves p after each interval:

    p <- clip(p + sign(r_t - target) * N / (kimg * 1000), 0, 1)

with N the real images seen in that interval, so p can cross [0, 1] in `kimg` thousand
images. The paper: target 0.6, an interval of 4 steps, kimg 500 (runs of tens of millions
of images). A CPU run sees 10^4 to 10^5 images, so the default here is 20: p can go from 0
to 1 in 20,000 images, about a fifth of a 100k-image run.

The augmentations are DiffAugment's policies (--diffaug), each applied to each image with
probability p (augment/diffaug.py), on real and fake images alike as in both papers.
StyleGAN2-ADA's own pipeline is larger (18 transforms: flips, rotations, scaling, colour
and filters); DiffAugment's colour, translation and cutout are what runs here. For a D
with several logits per image (FastGAN's 5x5 maps), the sign is that of the image's mean
logit, the score its loss averages.

p and the interval's sums are weights of the `AdaptiveAugment` layer a trainer holds, so
checkpoints save them and a resumed run continues where it stopped; p is logged as `ada_p`.
"""

import keras
from keras import ops

from kerasgan.losses import per_example_mean
from kerasgan.replicas import replica_sum

TARGET, INTERVAL, KIMG = 0.6, 4, 20.0


def next_p(p, r_t, target, images, kimg):
    """ADA's update: p moved by `images` / (kimg * 1000) towards more augmentation when
    r_t > target, less when r_t < target (not at all when equal), kept in [0, 1]."""
    return ops.clip(p + ops.sign(r_t - target) * images / (kimg * 1000.0), 0.0, 1.0)


class AdaptiveAugment(keras.layers.Layer):
    """p and the sums that move it. A trainer calls `observe` with D's logits on the real
    images of every D update and `adjust` with the step count after every step."""

    def __init__(self, target=TARGET, interval=INTERVAL, kimg=KIMG, **kwargs):
        super().__init__(**kwargs)
        if not -1.0 < target < 1.0:
            raise ValueError(f"the ADA target is a value of E[sign(D(real))], in (-1, 1); got {target}")
        if interval < 1 or kimg <= 0:
            raise ValueError(f"ADA needs interval >= 1 and kimg > 0; got {interval} and {kimg}")
        self.target, self.interval, self.kimg = float(target), int(interval), float(kimg)

        def scalar(name):
            return self.add_weight(shape=(), initializer="zeros", trainable=False, name=name)

        self.p = scalar("p")
        self.sign_sum = scalar("sign_sum")  # sum of sign(D(real)) since the last adjustment
        self.seen = scalar("seen")  # real images since the last adjustment
        self.built = True

    def observe(self, real_logits):
        """Adds one D update's real images to the interval's sums; returns their mean sign."""
        signs = ops.sign(per_example_mean(ops.cast(real_logits, "float32")))
        total, count = replica_sum(ops.sum(signs)), replica_sum(ops.cast(ops.shape(signs)[0], "float32"))
        self.sign_sum.assign_add(total)
        self.seen.assign_add(count)
        return total / count

    def adjust(self, step):
        """At every `interval`-th step: p moved by the interval's r_t, the sums cleared."""
        due = ops.equal(ops.mod(ops.cast(step, "int64"), self.interval), 0)
        r_t = self.sign_sum / ops.maximum(self.seen, 1.0)
        self.p.assign(ops.where(due, next_p(self.p, r_t, self.target, self.seen, self.kimg), self.p))
        for total in (self.sign_sum, self.seen):
            total.assign(ops.where(due, 0.0, total))
