"""Images from an exported generator, with labels by name, as one PNG grid.

    python train_dcgan.py generate --model exports/cdcgan_shapes_64 --labels shape=circle,color=red \\
        --num 16 --output red_circles.png

`--model` is an export folder (exports/NAME, whose newest version is used, or
exports/NAME/VERSION). Attributes that `--labels` leaves out are drawn at random for each
image; InfoGAN's continuous codes are drawn from U(-1, 1). The SavedModel is loaded with
TensorFlow alone (`tf.saved_model.load`), not rebuilt from the training code.
"""

from pathlib import Path


from kerasgan.commands import common as cli
from kerasgan.errors import UserError
from kerasgan.images import IMAGE_FORMATS
from kerasgan.latent import signature_inputs


def parse_labels(text, label_names):
    """"hair=blue,eyes=red" -> {"hair": id, "eyes": id}, checked against `label_names`."""
    if not text:
        return {}
    if not label_names:
        raise UserError("this model is not conditional: it takes no --labels")
    chosen = {}
    for pair in text.split(","):
        attribute, sep, value = (part.strip() for part in pair.partition("="))
        if not sep or not attribute or not value:
            raise UserError(f"--labels wants attribute=class pairs separated by commas, got {pair!r}")
        if attribute not in label_names:
            raise UserError(f"unknown attribute {attribute!r}; this model has: {', '.join(label_names)}")
        classes = label_names[attribute]
        if value not in classes:
            raise UserError(f"unknown {attribute} {value!r}; choose one of: {', '.join(classes)}")
        chosen[attribute] = classes.index(value)
    return chosen


def generate(model, labels=None, num=16, seed=0):
    """uint8 images [num, H, W, 3] from the export at `model` for labels given by name."""
    import tensorflow as tf

    from kerasgan.export import GENERATOR_KINDS, find_export, load_saved_model, read_metadata

    version_dir = find_export(model)
    metadata = read_metadata(version_dir)
    if metadata.get("kind", "generator") not in GENERATOR_KINDS:
        raise UserError(f"{version_dir} is a {metadata['kind']}, not a generator: generate makes new images only")
    label_names = metadata.get("label_names", {})
    chosen = parse_labels(labels, label_names)
    loaded = load_saved_model(version_dir)
    signature = loaded.signatures["serving_default"]
    latent = metadata.get("latent", "normal")
    inputs = signature_inputs(signature, num, chosen, label_names, latent, seed)
    return signature(**{k: tf.constant(v) for k, v in inputs.items()})["images"].numpy()


def build_parser(prog="kerasgan generate"):
    parser = cli.ArgumentParser(prog=prog,
                                description="Generate images from an exported generator.")
    parser.add_argument("--model", required=True, help="export folder: exports/NAME or exports/NAME/VERSION")
    parser.add_argument("--labels", default="",
                        help="attribute=class pairs, e.g. shape=circle,color=red (others: random)")
    parser.add_argument("--num", type=cli.positive_int, default=16, help="images to generate")
    parser.add_argument("--columns", type=cli.positive_int, default=None, help="grid columns (default: square)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="generated.png", help="PNG file for the image grid")
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    return parser


def check_output_file(path, overwrite=False):
    """A path a new file may be written to: never an existing folder, never an existing file
    unless `overwrite`."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise UserError(f"--output {path} is a folder: give a file name such as {path / 'generated.png'}")
    if path.suffix.lower() not in IMAGE_FORMATS:
        raise UserError(f"--output {path} is not an image file name: end it in {', '.join(IMAGE_FORMATS)} "
                        f"(such as {path.with_suffix('.png').name})")
    if path.exists() and not overwrite:
        raise UserError(f"--output {path} exists: choose another name, or add --overwrite to replace it")
    return path


def main(argv=None, prog="kerasgan generate"):
    from kerasgan.images import make_grid, save_png

    args = build_parser(prog).parse_args(argv)
    output = check_output_file(args.output, args.overwrite)
    images = generate(args.model, args.labels, args.num, args.seed)
    path = save_png(make_grid(images, args.columns), output)
    print(f"{len(images)} images: {path}")
    return path

