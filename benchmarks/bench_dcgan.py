"""Steady-state DCGAN training throughput on this machine, printed as a table.

    python benchmarks/bench_dcgan.py [--quick]

For each configuration: images/sec, seconds/step (median of timed windows after a warm-up
window that includes XLA compilation) and the achieved GFLOP/s from analytic FLOP counts.
The input pipeline's own images/sec shows whether it could ever starve the step.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kerasgan  # noqa: E402,F401

import keras  # noqa: E402

from benchmarks.flops import gan_step_flops  # noqa: E402
from kerasgan.data.pipeline import make_dataset  # noqa: E402
from kerasgan.data.shapes import make_shapes  # noqa: E402
from kerasgan.nets.dcgan import build_discriminator, build_generator  # noqa: E402
from kerasgan.trainers.gan import GANTrainer  # noqa: E402


class WindowTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def bench_step(image_size, batch, xla, loss="lsgan", width=32, n_critic=1, window=4, windows=3):
    keras.utils.set_random_seed(0)
    generator = build_generator(image_size, width=width)
    norm = "none" if loss == "wgan-gp" else "batch"
    discriminator = build_discriminator(image_size, width=width, norm=norm)
    trainer = GANTrainer(generator, discriminator, loss=loss, n_critic=n_critic, seed=0)
    trainer.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5), jit_compile=xla)
    images, _ = make_shapes(max(batch * 2, 64), image_size)
    timer = WindowTimer()
    trainer.fit(make_dataset(images, image_size, batch), steps_per_epoch=window, epochs=windows + 1,
                callbacks=[timer], verbose=0, shuffle=False)
    step = statistics.median(timer.seconds[1:]) / window
    flops = gan_step_flops(generator, discriminator, batch, n_critic)
    return {"step_s": step, "img_s": batch / step, "gflops": flops / step / 1e9, "xla": trainer.jit_compile}


def bench_pipeline(image_size, batch, preprocess="deluxe", batches=50):
    images, _ = make_shapes(512, image_size)
    dataset = make_dataset(images, image_size, batch, preprocess)
    iterator = iter(dataset)
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 16 at 64x64 only")
    args = parser.parse_args()
    configs = [("DCGAN-64", 64, 16, "lsgan"), ("DCGAN-64", 64, 64, "lsgan")]
    if not args.quick:
        configs += [("WGAN-GP-64", 64, 16, "wgan-gp"), ("DCGAN-256", 256, 4, "lsgan")]
    print(f"{'model':<12}{'batch':>6}{'xla':>6}{'img/s':>9}{'s/step':>9}{'GFLOP/s':>9}")
    for name, size, batch, loss in configs:
        for xla in (True, False):
            r = bench_step(size, batch, xla, loss, window=2 if size == 256 else 4)
            print(f"{name:<12}{batch:>6}{'on' if r['xla'] else 'off':>6}{r['img_s']:>9.1f}"
                  f"{r['step_s']:>9.3f}{r['gflops']:>9.1f}", flush=True)
    for size in (64, 256):
        print(f"input pipeline (deluxe, {size}x{size}): {bench_pipeline(size, 16):.0f} img/s")


if __name__ == "__main__":
    main()
