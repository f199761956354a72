"""Diffusion against the GAN on this machine: train step time and sampling rates, one table.

    python -m benchmarks.bench_diffusion                              # cpu preset, 64 px
    python -m benchmarks.bench_diffusion --preset gpu --sizes 64 128 --batch 64

Train rows time the diffusion recipe's own trainer (train_diffusion.py's flags -> config ->
recipes.diffusion builders -> scale.build_trainer) on the built-in shapes, median window
after a warm-up window, like benchmarks/bench_train.py. Sampling rows time DDIM with the EMA
network at 10, 50 and 250 steps (the traced tf.function the sample grids and FID use; the
export runs the same loop in its graph), beside the DCGAN generator (train_dcgan.py's
defaults at the same size): one network call per image against `steps` calls per image. At 32
and 64 px a DCGAN train row follows (benchmarks/bench_train.py's dcgan-32 and dcgan-64 rows: the
MNIST DCGAN at batch 64 and the PyTorch example's network at batch 16).
"""

import argparse
import statistics
import time

from kerasgan.commands import train_diffusion, train_gan  # noqa: I001  (first: it quiets TensorFlow's import)

import keras
import numpy as np
import tensorflow as tf

from benchmarks.bench_train import WindowTimer, bench, machine
from kerasgan import scale
from kerasgan.data.pipeline import make_dataset
from kerasgan.data.shapes import make_shapes
from kerasgan.recipes import diffusion as diffusion_recipe
from kerasgan.recipes import gan as gan_recipe


def build_diffusion(size, preset, batch, xla, precision):
    config = train_diffusion.config_from_flags(["--image-size", str(size), "--preset", preset, "--batch-size",
                                                str(batch), "--xla", xla, "--precision", precision])
    trainer, _ = scale.build_trainer(config, lambda: diffusion_recipe.build_trainer(config),
                                     lambda: diffusion_recipe.build_optimizers(config, 10**6))
    return trainer


def train_rate(trainer, size, batch, steps, windows):
    """Seconds per train step (median window after one warm-up window)."""
    images, _ = make_shapes(max(4 * batch, 64), size)
    timer = WindowTimer(steps, steps)
    trainer.fit(make_dataset(images, size, batch), steps_per_epoch=steps * (windows + 1), epochs=1,
                callbacks=[timer], verbose=0, shuffle=False)
    return statistics.median(timer.windows) / steps


def timed(fn, repeats):
    fn()  # tracing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sampling_rates(trainer, size, batch, step_counts, repeats):
    """{steps: images/s} of DDIM with the EMA network."""
    noise = diffusion_recipe.start_noise(batch, size)
    return {steps: batch / timed(lambda s=steps: np.asarray(trainer.sample(noise, s)), repeats)
            for steps in step_counts}


# The DCGAN train row of benchmarks/bench_train.py at each size it has one.
GAN_TRAIN_ROWS = {32: "dcgan-32", 64: "dcgan-64"}


def gan_sampling_rate(size, batch, repeats):
    config = train_gan.config_from_flags(["--image-size", str(size)])
    generator, _ = gan_recipe.build_networks(config)
    noise = np.random.default_rng(0).standard_normal((batch, config.noise_dim)).astype(np.float32)
    predict = tf.function(lambda x: generator(x, training=False))  # a graph call, as the export serves it
    return batch / timed(lambda: np.asarray(predict(noise)), repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[64], choices=[16, 32, 64, 128])
    parser.add_argument("--preset", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--batch", type=int, default=16, help="train batch and sampling batch")
    parser.add_argument("--xla", default="off", choices=["on", "off"])
    parser.add_argument("--precision", default="float32", choices=scale.PRECISIONS)
    parser.add_argument("--steps", type=int, default=4, help="train steps per timed window")
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--sample-steps", nargs="+", type=int, default=[10, 50, 250])
    parser.add_argument("--repeats", type=int, default=2, help="timed sampler calls (median shown)")
    args = parser.parse_args()

    print(f"{machine()}; U-Net preset {args.preset}, batch {args.batch}, XLA {args.xla}, {args.precision}")
    print(f"{'model':<22}{'size':>5}{'params':>10}{'train s/step':>14}{'train img/s':>13}  sampling img/s")
    for size in args.sizes:
        keras.backend.clear_session()
        trainer = build_diffusion(size, args.preset, args.batch, args.xla, args.precision)
        step = train_rate(trainer, size, args.batch, args.steps, args.windows)
        rates = sampling_rates(trainer, size, args.batch, args.sample_steps, args.repeats)
        sampled = ", ".join(f"{r:.2f} @ {s} DDIM steps" for s, r in rates.items())
        print(f"{'diffusion ' + args.preset:<22}{size:>5}{trainer.network.count_params():>10}{step:>14.3f}"
              f"{args.batch / step:>13.1f}  {sampled}", flush=True)
        gan = gan_sampling_rate(size, args.batch, args.repeats)
        print(f"{'dcgan generator':<22}{size:>5}{'':>10}{'':>14}{'':>13}  {gan:.1f} (one network call)", flush=True)
        if size in GAN_TRAIN_ROWS:
            row = bench(GAN_TRAIN_ROWS[size], args.xla, args.precision, args.windows)
            print(f"{'dcgan train (' + GAN_TRAIN_ROWS[size] + ')':<22}{size:>5}{'':>10}{row['step_s']:>14.3f}"
                  f"{row['img_s']:>13.1f}", flush=True)


if __name__ == "__main__":
    main()
