"""Steady-state training speed of kerasgan's models on this machine, printed as one table.

    python -m benchmarks.bench_train                      # every model, XLA on and off, each precision
    python -m benchmarks.bench_train --models dcgan-64 --xla off --precisions float32

Each setting is built by the training commands' own code (their flags -> the recipe's config,
the recipe's builders, scale.build_trainer), fed by the real input pipeline on the built-in `shapes`
data, run for a warm-up window (tracing, XLA compilation, CycleGAN's pools) and then timed
over `--windows` windows; the table shows the median window. GFLOP/s counts the FLOPs the
step performs (benchmarks/flops.py). The DCGAN rows use the PyTorch DCGAN example's
architecture (width 64, transposed convs, batch norm, BCE) so they compare with it directly.
The FastGAN rows are its defaults (the paper's settings at width 16, batch 8), one per size.
Last come the input pipeline's images/s: far above any step's, so it never starves it.
"""

import argparse
import os
import platform
import statistics
import time

from kerasgan.commands import train_cyclegan, train_gan  # noqa: I001  (first: it quiets TensorFlow's import)

import keras
import tensorflow as tf

from benchmarks.flops import cyclegan_step_flops, fastgan_step_flops, gan_step_flops
from kerasgan import scale
from kerasgan.data.domains import load_domains, make_pair_dataset
from kerasgan.data.pipeline import make_dataset
from kerasgan.data.shapes import make_shapes
from kerasgan.recipes import cyclegan as cyclegan_recipe
from kerasgan.recipes import gan as gan_recipe

# Every option that shapes the step is pinned: a default that changes (the DCGAN's on the built-in
# shapes once leaked in here: EMA, G's full-resolution convs, G at 1e-3) must not change the
# network a row names. tests/test_benchmarks.py checks these rows against the networks named.
PYTORCH_DCGAN = ["--width", "64", "--g-upsample", "transpose", "--loss", "bce", "--norm", "batch", "--noise-dim",
                 "100", "--lr", "2e-4", "--beta1", "0.5", "--beta2", "0.999", "--ema", "0", "--g-full-res-convs", "0",
                 "--diffaug", "none", "--n-critic", "1", "--init", "normal"]
# The README's MNIST lines' DCGAN: BCE, no norm in D, G 5x faster than D, a weight average.
MNIST_DCGAN = ["--image-size", "32", "--loss", "bce", "--d-norm", "none", "--width", "32", "--g-lr", "1e-3",
               "--d-lr", "2e-4", "--ema", "0.999", "--latent", "uniform", "--noise-dim", "62", "--g-full-res-convs", "0",
               "--diffaug", "none"]
# FastGAN as its defaults are today (the paper's settings at width 16, docs/fastgan.md).
FASTGAN = ["--model", "fastgan", "--width", "16", "--noise-dim", "256", "--loss", "hinge", "--lr", "2e-4", "--beta1", "0.5",
           "--beta2", "0.999", "--ema", "0.999", "--diffaug", "color,translation,cutout", "--init", "normal", "--n-critic",
           "1"]
# name: (family, batch, CLI arguments, steps per window)
MODELS = {
    "dcgan-64": ("dcgan", 16, ["--image-size", "64", *PYTORCH_DCGAN], 8),
    "dcgan-64-b64": ("dcgan", 64, ["--image-size", "64", *PYTORCH_DCGAN], 3),
    "wgan-gp-64": ("dcgan", 16, ["--model", "wgan-gp", "--image-size", "64", "--width", "64"], 2),
    "dcgan-256": ("dcgan", 8, ["--image-size", "256", "--width", "64"], 1),
    # The README's MNIST DCGAN (32 px, no norm in D) without and with its R1 penalty, and with
    # the minibatch standard deviation layer: what each option costs per step.
    "dcgan-32": ("dcgan", 64, MNIST_DCGAN, 6),
    "dcgan-32-r1": ("dcgan", 64, [*MNIST_DCGAN, "--r1", "1"], 6),
    "dcgan-32-mbstd": ("dcgan", 64, [*MNIST_DCGAN, "--minibatch-std"], 6),
    # FastGAN per size at the paper's batch 8 (the grumpy cats' 64 px photos upsampled above 64).
    "fastgan-64": ("dcgan", 8, ["--image-size", "64", *FASTGAN], 4),
    "fastgan-128": ("dcgan", 8, ["--image-size", "128", *FASTGAN], 2),
    "fastgan-256": ("dcgan", 8, ["--image-size", "256", *FASTGAN], 2),
    "fastgan-512": ("dcgan", 8, ["--image-size", "512", *FASTGAN], 2),
    "cyclegan-64": ("cyclegan", 1, ["--image-size", "64", "--g-blocks", "6"], 10),
    # The reference implementation's defaults: 9 blocks, identity loss 0.5.
    "cyclegan-256": ("cyclegan", 1, ["--image-size", "256", "--g-blocks", "9", "--use-identity-loss"], 2),
}


class WindowTimer(keras.callbacks.Callback):
    """Seconds per window of `steps` batches after `warmup` untimed ones."""

    def __init__(self, warmup, steps):
        super().__init__()
        self.warmup, self.steps = warmup, steps
        self.done, self.start, self.windows = 0, None, []

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        timed = self.done - self.warmup
        if timed < 0 or timed % self.steps:
            return
        now = time.perf_counter()
        if timed > 0:
            self.windows.append(now - self.start)
        self.start = now


def config(name, xla="off", precision="float32"):
    """The resolved config of a benchmark row, as its command line would build it. The data is
    given as a folder, so no dataset's own defaults apply; the step is fed `shapes` images."""
    family, batch, argv, _ = MODELS[name]
    common = [*argv, "--batch-size", str(batch), "--xla", xla, "--precision", precision]
    if family == "dcgan":
        return train_gan.config_from_flags([*common, "--data-dir", "benchmark-images"])
    return train_cyclegan.config_from_flags(common)


def build(name, xla, precision):
    """(trainer, dataset, FLOPs per step) for a benchmark model, as its CLI would build it."""
    family, batch, _, _ = MODELS[name]
    args = config(name, xla, precision)
    if family == "dcgan":
        trainer, _ = scale.build_trainer(args, lambda: gan_recipe.build_trainer(args),
                                         lambda: gan_recipe.build_optimizers(args, 10**6))
        images, _ = make_shapes(max(4 * batch, 64), args.image_size)
        dataset = make_dataset(images, args.image_size, batch, "deluxe")
        if args.model == "fastgan":
            flops = fastgan_step_flops(trainer.generator, trainer.discriminator, trainer.decoders, batch)
        else:
            flops = gan_step_flops(trainer.generator, trainer.discriminator, batch, trainer.n_critic,
                                   trainer.loss_kind == "wgan-gp" or bool(trainer.r1))
        return trainer, dataset, flops
    trainer, _ = scale.build_trainer(args, lambda: cyclegan_recipe.build_trainer(args),
                                     lambda: cyclegan_recipe.build_optimizers(args, 10**6, 2 * 10**6))
    pair = load_domains(None, image_size=args.image_size, num_images=8, num_test=1)
    dataset = make_pair_dataset(pair, args.image_size, batch)
    flops = cyclegan_step_flops(trainer.g_xy, trainer.d_x, args.image_size, batch, args.lambda_identity > 0)
    return trainer, dataset, flops


def bench(name, xla, precision, windows):
    """{"img_s", "step_s", "gflops", "xla"} for one setting, timed after one warm-up window."""
    keras.backend.clear_session()
    steps = MODELS[name][3]
    trainer, dataset, flops = build(name, xla, precision)
    timer = WindowTimer(steps, steps)
    trainer.fit(dataset, steps_per_epoch=steps * (windows + 1), epochs=1, callbacks=[timer], verbose=0,
                shuffle=False)
    step = statistics.median(timer.windows) / steps
    batch = MODELS[name][1]
    return {"img_s": batch / step, "step_s": step, "gflops": flops / step / 1e9, "xla": trainer.jit_compile}


def pipeline_rate(image_size, batch=16, batches=40):
    """Images/s the deluxe input pipeline alone delivers."""
    images, _ = make_shapes(256, image_size)
    iterator = iter(make_dataset(images, image_size, batch, "deluxe"))
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch / (time.perf_counter() - start)


def machine():
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus)
    return f"CPU ({platform.processor() or platform.machine()}), {os.cpu_count()} cores"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--xla", nargs="+", default=["on", "off"], choices=["on", "off"])
    parser.add_argument("--precisions", nargs="+", default=list(scale.PRECISIONS), choices=scale.PRECISIONS)
    parser.add_argument("--windows", type=int, default=3, help="timed windows per setting (median shown)")
    args = parser.parse_args()

    print(f"{machine()}, TensorFlow {tf.__version__}, Keras {keras.__version__}; "
          f"median of {args.windows} windows after a warm-up window")
    print(f"{'model':<14}{'batch':>6}{'xla':>5}  {'precision':<16}{'img/s':>8}{'s/step':>9}{'GFLOP/s':>9}")
    for name in args.models:
        for xla in args.xla:
            for precision in args.precisions:
                row = f"{name:<14}{MODELS[name][1]:>6}{xla:>5}  {precision:<16}"
                try:
                    r = bench(name, xla, precision, args.windows)
                except Exception as error:  # one setting failing (e.g. no float16 kernel) is a row, not the end
                    print(f"{row}failed: {type(error).__name__}: {str(error).splitlines()[0][:80]}", flush=True)
                    continue
                compiled = "" if (xla == "on") == r["xla"] else "  (Keras turned XLA off)"
                rate = f"{r['img_s']:.1f}" if r["img_s"] >= 10 else f"{r['img_s']:.3f}"
                print(f"{row}{rate:>8}{r['step_s']:>9.3f}{r['gflops']:>9.1f}{compiled}", flush=True)
    for size in (64, 256):
        print(f"input pipeline (deluxe, {size}x{size}, batch 16): {pipeline_rate(size):.0f} img/s", flush=True)


if __name__ == "__main__":
    main()
