"""Images per second of InceptionV3 feature extraction, with and without XLA.

Uses a randomly initialised network (weights=None), which runs exactly as fast as the
ImageNet one, on 32x32 uint8 images (so the antialiased resize to 299 is included).
Each setting is warmed up once (tracing, XLA compilation), then timed `--repeats` times;
the median is printed.

    python -m benchmarks.bench_fid --batch-sizes 8 32 --repeats 3
"""

import argparse
import os
import statistics
import time

import kerasgan  # noqa: F401  (sets TF environment variables first)

import numpy as np
import tensorflow as tf

from kerasgan.metrics import InceptionFeatures


def images_per_second(extractor, images, repeats):
    extractor(images)  # warm-up: tracing and, with XLA, compilation
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        extractor(images)
        seconds.append(time.perf_counter() - start)
    return len(images) / statistics.median(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batches-per-repeat", type=int, default=2)
    args = parser.parse_args()

    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    print(f"InceptionV3 features, weights=None, {args.image_size}x{args.image_size} uint8 input, "
          f"{device}, {os.cpu_count()} CPU cores, median of {args.repeats} repeats")
    rng = np.random.default_rng(0)
    extractors = {jit: InceptionFeatures(weights=None, jit_compile=jit) for jit in (False, True)}
    for batch_size in args.batch_sizes:
        count = batch_size * args.batches_per_repeat
        images = rng.integers(0, 256, (count, args.image_size, args.image_size, 3), np.uint8)
        for jit, extractor in extractors.items():
            extractor.batch_size = batch_size
            rate = images_per_second(extractor, images, args.repeats)
            label = "XLA  " if extractor.jit_compile else "graph"
            print(f"batch {batch_size:4d}  {label}  {rate:7.1f} images/s", flush=True)


if __name__ == "__main__":
    main()
