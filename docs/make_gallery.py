"""Remake the documentation's pictures from real runs of kerasgan's own commands.

    python docs/make_gallery.py                          # every picture (about 1.5 hours on 2 CPU cores)
    python docs/make_gallery.py --only shapes cgan_mnist # some of them
    python docs/make_gallery.py --data-root path/to/data # where grumpifyCat/, apple2orange/, mnist5k/ are

Each entry below is one training command and the command(s) that turn its export into a
picture in docs/img/. Runs and exports go to --work (a scratch folder, kept, so a picture can
be remade without training again: an entry whose export exists is not retrained unless
--retrain). The wall time, the CPU time of the command's processes and the machine's load
average are written to docs/img/gallery.json, which the pages' captions quote.

This is a developer's tool: --data-root defaults to ../shared/data beside the checkout, where
the project's development machines keep the real photos (never copied into the repository).
The data it expects there: grumpifyCat/ (the course layout), apple2orange/apple2orange/{apple,
orange}/, mnist5k/<digit>/.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"


def entries(data):
    """{name: (training command, steps, picture maker)}; `data` is the --data-root Path."""
    cats = str(data / "grumpifyCat")
    apples, oranges = (str(data / "apple2orange" / "apple2orange" / d) for d in ("apple", "orange"))
    mnist = str(data / "mnist5k")
    return {
        "shapes": (["train", "--steps", "12000"], 12000, shapes_picture),
        "cats": (["train", "--dataset", "grumpifycat", "--data-dir", cats, "--data-preprocess", "deluxe",
                  "--diffaug", "--ema", "0.999", "--steps", "4000"], 4000, cats_picture),
        "apple2orange": (["train-cyclegan", "--x-dir", apples, "--y-dir", oranges, "--name", "cyclegan_apple2orange_64",
                          "--batch-size", "1", "--steps", "2000"], 2000, apple2orange_picture),
        "cgan_mnist": (["train", "--data-dir", mnist, "--model", "cgan", "--steps", "3000", "--ema", "0.999"],
                       3000, cgan_mnist_picture),
        "cdcgan_dot": (["train", "--model", "cdcgan", "--dataset", "shapes-dot", "--image-size", "32",
                        "--batch-size", "32", "--ema", "0.999", "--steps", "2400"], 2400, cdcgan_dot_picture),
        "diffusion": (["train-diffusion", "--image-size", "32", "--precision", "mixed_bfloat16", "--steps", "3600"],
                      3600, diffusion_picture),
    }


def kerasgan(args, cwd, log=None):
    """Runs `kerasgan ARGS` (as python -m kerasgan, from this checkout) in `cwd`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "kerasgan", *args]
    with open(log, "a") if log else open(os.devnull, "w") as out:
        subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=True)


def train(name, args, steps, work, retrain):
    """Trains entry `name` in work/name/ unless its export exists; returns its timing record (or None)."""
    folder = work / name
    if (folder / "exports").is_dir() and not retrain:
        return None
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before, start = os.getloadavg()[0], time.time()
    kerasgan([*args, "--verbose", "2"], folder, log=folder / "train.log")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"command": "kerasgan " + " ".join(args), "steps": steps,
            "wall_minutes": round((time.time() - start) / 60, 1), "cpu_minutes": round(cpu / 60, 1),
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "date": time.strftime("%Y-%m-%d")}


def export_of(folder):
    """The export folders of a run made in `folder` (exports/NAME), sorted by name."""
    return sorted(p for p in (folder / "exports").iterdir() if p.is_dir())


def generated(folder, model, num, seed=0, labels=None, columns=None):
    """uint8 tiles [num, H, W, 3] from `kerasgan generate` (its PNG grid, cut back into tiles)."""
    path = folder / f"generated_{seed}_{(labels or 'any').replace('=', '-').replace(',', '_')}.png"
    args = ["generate", "--model", str(model), "--num", str(num), "--seed", str(seed), "--output", str(path),
            "--columns", str(num), "--overwrite"]
    if labels:
        args += ["--labels", labels]
    kerasgan(args, folder)
    return tiles(np.asarray(Image.open(path).convert("RGB")), num)


def tiles(grid, count, padding=2):
    """The `count` tiles of one row of a make_grid picture."""
    size = grid.shape[0] - 2 * padding
    return np.stack([grid[padding:padding + size, padding + i * (size + padding):][:, :size] for i in range(count)])


def strip(rows, scale=1, padding=2):
    """uint8 rows of tiles [[H, W, 3], ...] -> one picture (white gaps), tiles enlarged `scale` times."""
    height, width = rows[0][0].shape[:2]
    height, width = height * scale, width * scale
    columns = max(len(r) for r in rows)
    picture = np.full((len(rows) * (height + padding) + padding, columns * (width + padding) + padding, 3), 255,
                      np.uint8)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            big = np.repeat(np.repeat(tile, scale, axis=0), scale, axis=1)
            top, left = padding + r * (height + padding), padding + c * (width + padding)
            picture[top:top + height, left:left + width] = big
    return picture


def save(picture, name):
    """docs/img/NAME.png as a 256-colour PNG: lossless for grids of few colours; photos are
    dithered onto the 256 colours that cover them best, a third of the bytes of RGB."""
    OUT.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(picture)
    if image.getcolors(256) is None:
        palette = image.quantize(colors=256, method=Image.Quantize.MAXCOVERAGE)
        image = image.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)
    else:
        exact = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        if np.array_equal(np.asarray(exact.convert("RGB")), picture):
            image = exact
    image.save(OUT / f"{name}.png", optimize=True)
    return f"{name}.png"


def shapes_picture(folder, data):
    images = generated(folder, export_of(folder)[0], 16)
    return save(strip([images[:8], images[8:]], scale=2), "shapes_dcgan")


def cats_picture(folder, data):
    images = generated(folder, export_of(folder)[0], 16)
    return save(strip([images[:8], images[8:]]), "cats_dcgan")


def apple2orange_picture(folder, data):
    """Top to bottom: apples, G(apples), oranges, F(oranges), for the first 8 files of each folder."""
    rows = []
    for domain, direction in (("apple", "x2y"), ("orange", "y2x")):
        source = data / "apple2orange" / "apple2orange" / domain
        picked = folder / f"picked_{domain}"
        shutil.rmtree(picked, ignore_errors=True)
        picked.mkdir()
        files = sorted(source.iterdir())[:8]
        for path in files:
            shutil.copy(path, picked / path.name)
        out = folder / f"translated_{domain}"
        shutil.rmtree(out, ignore_errors=True)
        kerasgan(["translate", "--model", f"exports/cyclegan_apple2orange_64_{direction}", "--input", str(picked),
                  "--output", str(out)], folder)
        rows.append([np.asarray(Image.open(p).convert("RGB")) for p in files])
        rows.append([np.asarray(Image.open(out / (p.stem + ".png")).convert("RGB")) for p in files])
    return save(strip(rows), "apple2orange_cyclegan")


def cgan_mnist_picture(folder, data):
    """One column per digit, two samples each."""
    columns = [generated(folder, export_of(folder)[0], 2, labels=f"label={d}") for d in range(10)]
    return save(strip([[c[0] for c in columns], [c[1] for c in columns]], scale=2), "cgan_mnist")


def cdcgan_dot_picture(folder, data):
    """Rows: a red circle, square, triangle; columns: the dot's colour (red shows every dot colour)."""
    dots = ("white", "black", "cyan", "magenta")
    rows = [[generated(folder, export_of(folder)[0], 1, seed=s, labels=f"shape={shape},color=red,dot={dot}")[0]
             for s, dot in enumerate(dots)] for shape in ("circle", "square", "triangle")]
    return save(strip(rows, scale=2), "cdcgan_shapes_dot")


def diffusion_picture(folder, data):
    images = generated(folder, export_of(folder)[0], 16)
    return save(strip([images[:8], images[8:]], scale=2), "diffusion_shapes")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data",
                        help="folder holding grumpifyCat/, apple2orange/, mnist5k/ (default: ../shared/data)")
    parser.add_argument("--work", type=Path, default=ROOT.parent / "gallery-work",
                        help="scratch folder for the runs and exports (default: ../gallery-work)")
    parser.add_argument("--only", nargs="+", help="entries to make (default: all)")
    parser.add_argument("--retrain", action="store_true", help="train again even if an export exists")
    args = parser.parse_args(argv)
    table = entries(args.data_root.resolve())
    unknown = set(args.only or ()) - set(table)
    if unknown:
        parser.error(f"unknown entries {sorted(unknown)}; choose from {', '.join(table)}")
    record_path = OUT / "gallery.json"
    records = json.loads(record_path.read_text()) if record_path.exists() else {}
    for name in args.only or table:
        command, steps, picture = table[name]
        print(f"{name}: kerasgan {' '.join(command)}", flush=True)
        record = train(name, command, steps, args.work.resolve(), args.retrain)
        made = picture(args.work.resolve() / name, args.data_root.resolve())
        if record:
            record["command"] = record["command"].replace(str(args.data_root.resolve()), "path/to/data")
            records[name] = record
            print(f"  {record['wall_minutes']} min, CPU {record['cpu_minutes']} min", flush=True)
        if name in records:
            records[name]["picture"] = made
        OUT.mkdir(parents=True, exist_ok=True)
        record_path.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
