"""Translate a folder of images with an exported CycleGAN generator.

    python train_cyclegan.py translate --model exports/NAME_x2y --input photos/ --output out/
    kerasgan translate --model exports/NAME_x2y --input photos/ --output out/

Every readable image under --input (recursively) is translated at its own size and written
as a PNG under --output with the same relative path. Users' files are never touched: the
output folder may not lie inside the input folder (or be it), two inputs never map to one
output (`a.png` and `a.jpg` become `a.png` and `a.jpg.png`), and an existing output file is
kept unless --overwrite.
"""

import warnings
from pathlib import Path

from kerasgan.commands import common as cli
from kerasgan.errors import UserError


def build_parser(prog="kerasgan translate"):
    parser = cli.ArgumentParser(prog=prog,
                                description="Translate a folder of images with an exported CycleGAN generator.")
    parser.add_argument("--model", required=True,
                        help="exports/NAME_x2y (latest version) or exports/NAME_x2y/VERSION")
    parser.add_argument("--input", required=True, help="folder of images (searched recursively)")
    parser.add_argument("--output", required=True, help="folder for the PNG results (same relative paths)")
    parser.add_argument("--overwrite", action="store_true", help="replace result files that already exist")
    return parser


def output_paths(inputs, input_dir, output_dir):
    """{input path: output PNG path}, one distinct output per input.

    `x.jpg` becomes `x.png`; when two inputs share a stem (`a.png`, `a.jpg`) the PNG keeps its
    name and the others keep their extension in the name (`a.jpg.png`).
    """
    by_stem = {}
    for path in inputs:
        by_stem.setdefault(path.relative_to(input_dir).with_suffix(""), []).append(path)
    out = {}
    for stem, paths in by_stem.items():
        for path in paths:
            shared = len(paths) > 1 and path.suffix.lower() != ".png"
            relative = path.relative_to(input_dir)
            out[path] = output_dir / (relative.with_name(relative.name + ".png") if shared else stem.with_suffix(".png"))
    if len(set(out.values())) < len(out):
        raise UserError(f"two images in {input_dir} would be written to one output file: rename one of them")
    return out


def check_folders(input_dir, output_dir):
    input_dir, output_dir = Path(input_dir).expanduser(), Path(output_dir).expanduser()
    if not input_dir.is_dir():
        raise UserError(f"--input: no such folder: {input_dir}")
    inside = output_dir.resolve() == input_dir.resolve() or input_dir.resolve() in output_dir.resolve().parents
    if inside:
        raise UserError(f"--output {output_dir} lies inside --input {input_dir}: choose a folder outside it, so "
                        "the source images are never overwritten")
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"--output {output_dir} is a file: give a folder")
    return input_dir, output_dir


def translate_folder(model_dir, input_dir, output_dir, overwrite=False):
    """Runs the export on every image of `input_dir` at its own size; writes PNGs; returns their paths.

    Sizes divisible by 4 go through the network as they are; the export resizes others.
    """
    import tensorflow as tf

    from kerasgan.data.folder import IMAGE_EXTENSIONS, list_images, read_rgb
    from kerasgan.export import load_saved_model, read_metadata
    from kerasgan.images import save_png

    input_dir, output_dir = check_folders(input_dir, output_dir)
    kind = read_metadata(model_dir).get("kind", "translator")
    if kind != "translator":
        raise UserError(f"{model_dir} is a {kind}, not a translator: make images with `generate`")
    targets = output_paths(list_images(input_dir), input_dir, output_dir)
    existing = [t for t in targets.values() if t.exists()]
    if existing and not overwrite:
        raise UserError(f"{len(existing)} result file(s) already exist in {output_dir} (first: {existing[0].name}): "
                        "choose another --output, or add --overwrite")
    translate = load_saved_model(model_dir).signatures["serving_default"]
    written, failed = [], []
    for path, target in targets.items():
        try:
            image = read_rgb(path)
        except Exception as error:  # Pillow raises many types for truncated or foreign files
            failed.append(f"{path.name}: {error}")
            continue
        result = translate(images=tf.constant(image[None]))["images"][0].numpy()
        written.append(save_png(result, target))
    if not written:
        detail = f" ({len(failed)} unreadable, first: {failed[0]})" if failed else ""
        raise UserError(f"no readable image in {input_dir}{detail}: --input takes a folder of "
                        f"{'/'.join(e.lstrip('.').upper() for e in IMAGE_EXTENSIONS)} files")
    if failed:
        warnings.warn(f"skipped {len(failed)} unreadable image file(s) (first: {failed[0]})", stacklevel=2)
    return written


def main(argv=None, prog="kerasgan translate"):
    from kerasgan.export import find_export

    args = build_parser(prog).parse_args(argv)
    model_dir = find_export(args.model)
    written = translate_folder(model_dir, args.input, args.output, args.overwrite)
    print(f"translated {len(written)} image(s) with {model_dir} into {args.output}")
    return written
