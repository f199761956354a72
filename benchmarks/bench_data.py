"""Data at any size (#43): start time, peak memory and images/s of streamed JPEG folders.

    python -m benchmarks.bench_data --root /tmp/kerasgan-data        # everything (about an hour on 2 cores)
    python -m benchmarks.bench_data --root /tmp/kerasgan-data --only start

Generates the folders it needs under --root once (1,000 and 200,000 JPEGs of 64 px, 1,000 and
50,000 of 128 px: smooth colour fields with grain, about the size of photos' JPEGs), then prints:

- start: seconds for `train_dcgan.py` to finish 2 steps (batch 64, --cache auto: the 1,000-image
  folders are decoded into memory, the big ones streamed) and the process's peak resident
  memory (ru_maxrss), each case in its own process, small and big interleaved, median of --repeats;
- pipeline: images/s the input pipeline delivers from JPEG files (--cache none, basic
  preprocessing, batches of 64) against the DCGAN-64 batch-64 training step's images/s;
- streamed vs memory: the step time of the same training run (10,000 of the 64 px JPEGs)
  with its images decoded in memory or streamed from the files, runs interleaved so that both
  see the same load; and the process's CPU seconds a step, which other work on the machine
  disturbs less than wall time (decoding costs CPU that the step would otherwise use).

The 2 CPU cores may be shared with other work: the load average is printed beside each figure.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"jpeg64_1k": (1_000, 64), "jpeg64_200k": (200_000, 64), "jpeg128_1k": (1_000, 128),
           "jpeg128_50k": (50_000, 128)}
START_PAIRS = (("jpeg64_1k", "jpeg64_200k"), ("jpeg128_1k", "jpeg128_50k"))


def load():
    return "load {:.1f}".format(os.getloadavg()[0])


def photo(index, size):
    """A deterministic photo-like image: a smooth 8x8 colour field upsampled, plus grain."""
    from PIL import Image

    rng = np.random.default_rng(index)
    field = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((size, size), Image.BICUBIC)
    grain = rng.integers(-12, 13, (size, size, 3))
    return Image.fromarray(np.clip(np.asarray(field, np.int16) + grain, 0, 255).astype(np.uint8))


def make_folder(folder, count, size):
    """count JPEGs (quality 90) in subfolders of 10,000; kept when already complete."""
    done = folder / ".complete"
    if done.exists():
        return folder

    def write(index):
        path = folder / f"{index // 10_000:02d}" / f"{index:06d}.jpg"
        if not path.exists():
            photo(index, size).save(path, quality=90)

    for part in range(0, count, 10_000):
        (folder / f"{part // 10_000:02d}").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(count)))
    done.write_text(str(count))
    megabytes = sum(p.stat().st_size for p in folder.rglob("*.jpg")) / 2**20
    print(f"wrote {folder}: {count} JPEGs of {size} px, {megabytes:.0f} MB, in {time.perf_counter() - started:.0f} s",
          flush=True)
    return folder


def measured_process(argv):
    """(wall seconds, peak resident MB) of a child process."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    out, err = process.communicate()
    if status != 0:
        raise RuntimeError(f"{argv} failed:\n{err[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, out


def start_case(folder, size, runs):
    name = f"start_{folder.name}_{time.monotonic_ns()}"
    return measured_process([sys.executable, str(ROOT / "train_dcgan.py"), "--data-dir", str(folder),
                             "--image-size", str(size), "--batch-size", "64", "--steps", "2", "--no-export",
                             "--verbose", "0", "--runs-dir", str(runs), "--name", name,
                             "--sample-every", "1000", "--checkpoint-every", "1000"])


def bench_start(root, repeats):
    print("\n## time to finish 2 steps and peak memory (train_dcgan.py, batch 64, --cache auto)")
    print("| folder | images | image size | seconds (median) | peak RSS MB (median) | runs | conditions |")
    print("|---|---|---|---|---|---|---|")
    for small, big in START_PAIRS:
        results = {small: [], big: []}
        for _ in range(repeats):
            for name in (small, big):  # interleaved: both see the same load
                results[name].append((*start_case(root / name, FOLDERS[name][1], root / "runs")[:2], load()))
        for name in (small, big):
            times, memory, loads = zip(*results[name])
            print(f"| {name} | {FOLDERS[name][0]:,} | {FOLDERS[name][1]} | {statistics.median(times):.1f} "
                  f"| {statistics.median(memory):,.0f} | {', '.join(f'{t:.1f} s / {m:,.0f} MB' for t, m in zip(times, memory))} "
                  f"| {', '.join(loads)} |", flush=True)


def pipeline_rate(folder, size, batches=60):
    """Images/s of make_dataset streaming `folder` (--cache none), after 5 warm-up batches."""
    code = f"""
import time, kerasgan
from kerasgan.data.sources import load_image_set
from kerasgan.data.pipeline import make_dataset
source = load_image_set(None, {str(folder)!r}, {size})
iterator = iter(make_dataset(source, {size}, 64, "basic", seed=0))
for _ in range(5):
    next(iterator)
started = time.perf_counter()
for _ in range({batches}):
    next(iterator)
print(64 * {batches} / (time.perf_counter() - started))
del iterator
"""
    return float(measured_process([sys.executable, "-c", code])[2].strip().splitlines()[-1])


STEP_RATE = """
import json, sys, time, keras, kerasgan
from kerasgan.recipes.gan import GAN

class Timer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []
    def on_train_batch_end(self, batch, logs=None):
        self.times.append((time.perf_counter(), time.process_time()))

timer = Timer()
folder, cache, runs, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
GAN(model="dcgan", image_size=64, batch_size=64, cache=cache, num_images=10_000, verbose=0, no_export=True,
    sample_every=10_000, checkpoint_every=10_000).fit(folder, steps=steps, runs_dir=runs, name=f"rate_{cache}_{time.time_ns()}",
                                                       callbacks=[timer])
walls = sorted(b[0] - a[0] for a, b in zip(timer.times[5:], timer.times[6:]))
(wall0, cpu0), (wall1, cpu1) = timer.times[5], timer.times[-1]
print(json.dumps({"wall": walls[len(walls) // 2], "cpu": (cpu1 - cpu0) / (len(timer.times) - 6)}))
"""


def bench_pipeline(root, repeats, steps=25):
    print("\n## input pipeline against the DCGAN-64 batch-64 step")
    rates = {name: pipeline_rate(root / name, FOLDERS[name][1]) for name in ("jpeg64_200k", "jpeg128_50k")}
    for name, rate in rates.items():
        print(f"pipeline from {name} (--cache none, basic, batches of 64): {rate:,.0f} images/s [{load()}]", flush=True)
    step = {"memory": [], "none": []}
    for _ in range(repeats):
        for cache in ("memory", "none"):  # interleaved
            seconds = json.loads(measured_process([sys.executable, "-c", STEP_RATE, str(root / "jpeg64_200k"), cache,
                                                   str(root / "runs"), str(steps)])[2].strip().splitlines()[-1])
            step[cache].append(seconds)
            print(f"  --cache {cache}: {seconds['wall']:.3f} s a step (median of {steps - 6}), {seconds['cpu']:.3f} "
                  f"CPU-s a step (both cores) [{load()}]", flush=True)
    wall = {c: statistics.median(r["wall"] for r in runs) for c, runs in step.items()}
    cpu = {c: statistics.median(r["cpu"] for r in runs) for c, runs in step.items()}
    print(f"DCGAN-64 batch-64 step: {64 / wall['memory']:.1f} images/s in memory, {64 / wall['none']:.1f} streamed "
          f"({100 * (wall['none'] / wall['memory'] - 1):+.1f}% step time, medians of {repeats} runs); CPU a step "
          f"{cpu['memory']:.3f} s in memory, {cpu['none']:.3f} s streamed ({100 * (cpu['none'] / cpu['memory'] - 1):+.1f}%)"
          f"; pipeline / step = {rates['jpeg64_200k'] / (64 / wall['memory']):.1f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/tmp/kerasgan-data", help="where the generated folders go")
    parser.add_argument("--only", choices=("folders", "start", "pipeline"), default=None)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    root = Path(args.root)
    for name, (count, size) in FOLDERS.items():
        make_folder(root / name, count, size)
    print(f"{os.cpu_count()} CPUs; {load()} before the runs")
    if args.only in (None, "start"):
        bench_start(root, args.repeats)
    if args.only in (None, "pipeline"):
        bench_pipeline(root, args.repeats)


if __name__ == "__main__":
    main()
