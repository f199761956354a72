"""CycleGAN training iterations per second, batch 1, at 64 (6 blocks) and 256 (9 blocks).

Full-size networks (64 filters, PatchGAN, instance norm, pools of 50), the paper's batch of 1,
XLA on and off. Each setting is warmed up (tracing, XLA compilation, the pool filling), then
`--windows` windows of `--steps-per-window` steps are timed; the median window is printed.
Input comes from the built-in shapes dataset with basic preprocessing, so the input pipeline
is not what is measured.

    python benchmarks/bench_cyclegan.py                      # both sizes, XLA on and off
    python benchmarks/bench_cyclegan.py --sizes 64 --windows 5
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import kerasgan  # noqa: E402,F401  (sets TF environment variables first)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import train_cyclegan  # noqa: E402
from kerasgan.data.domains import load_domains, make_pair_dataset  # noqa: E402

BLOCKS = {64: 6, 256: 9}


class WindowTimer(keras.callbacks.Callback):
    """Seconds per window of `steps` training steps, after `warmup` untimed steps."""

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


def iterations_per_second(image_size, jit, warmup, windows, steps_per_window):
    keras.backend.clear_session()
    args = train_cyclegan.resolve_defaults(train_cyclegan.build_parser().parse_args(
        ["--image-size", str(image_size), "--g-blocks", str(BLOCKS[image_size]), "--batch-size", "1"]))
    trainer = train_cyclegan.build_trainer(args)
    trainer.compile(*train_cyclegan.optimizers(args, 10**6, 2 * 10**6), jit_compile=jit)
    pair = load_domains(None, image_size=image_size, num_images=8, num_test=1)
    timer = WindowTimer(warmup, steps_per_window)
    trainer.fit(make_pair_dataset(pair, image_size, 1), steps_per_epoch=warmup + windows * steps_per_window,
                epochs=1, callbacks=[timer], shuffle=False, verbose=0)
    return steps_per_window / statistics.median(timer.windows), trainer.jit_compile


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256], choices=sorted(BLOCKS))
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--steps-per-window", type=int, default=4)
    args = parser.parse_args()

    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    print(f"CycleGAN train step, batch 1, 64 filters, PatchGAN, {device}, {os.cpu_count()} CPU cores, "
          f"median of {args.windows} windows of {args.steps_per_window} steps", flush=True)
    for size in args.sizes:
        for jit in (True, False):
            rate, compiled = iterations_per_second(size, jit, args.warmup, args.windows, args.steps_per_window)
            label = "XLA  " if compiled else "graph"
            print(f"{size:3d}x{size:<3d} {BLOCKS[size]} blocks  {label}  {rate:6.3f} it/s  "
                  f"({1 / rate:6.2f} s/it)", flush=True)


if __name__ == "__main__":
    main()
