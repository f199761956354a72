"""Score generators and image sets with FID and KID.

    kerasgan evaluate --model exports/dcgan_shapes_32          # newest exported version
    kerasgan evaluate --run runs/dcgan_shapes_32 --checkpoint best
    kerasgan evaluate --model exports/cats --data-dir data/cats --num-samples 5000
    kerasgan evaluate --folders samples/ data/cats/            # folder A against B
    kerasgan evaluate --x2y exports/cat_x2y --y2x exports/cat_y2x \\
        --x-dir data/grumpifyA --y-dir data/grumpifyB                    # CycleGAN, per domain
    kerasgan evaluate --run runs/cdcgan_shapes-dot_32 --label-accuracy   # conditional models
    kerasgan evaluate --model exports/cats --detector haarcascade_frontalcatface.xml

Generators are scored against --data-dir/--dataset (same meaning as in train_dcgan.py), or,
without them, against the training data their run recorded. --label-accuracy scores a
conditional generator (run or export) by how often a classifier trained on the labelled real
images reads each attribute of its images as the label they were drawn for, beside the
classifier's accuracy on held-back real images (kerasgan/metrics/label_accuracy.py). --detector
gives the share of generated (or folder A's) images in which an OpenCV cascade finds its object,
beside the share of real (folder B's) images (kerasgan/metrics/detector.py); like
--label-accuracy it needs no Inception weights. Prints a (metric, value) table, or JSON with
--json; what was compared goes to stderr.
"""

import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from kerasgan.commands import common as cli
from kerasgan.data.folder import list_image_files, read_rgb
from kerasgan.data.sources import folder_source, load_image_set
from kerasgan.errors import MissingPath, UserError
from kerasgan.export import GENERATOR_KINDS, find_export, load_saved_model, read_metadata
from kerasgan.images import save_png
from kerasgan.progress import information_to_stderr
from kerasgan.metrics import fid_and_kid, real_statistics, to_uint8
from kerasgan.metrics.callback import (
    default_num_samples,
    draw_inputs,
    generated_features,
    generator_sampler,
    inception_from_flag,
)
from kerasgan.metrics.detector import DEFAULT_MIN_NEIGHBORS, DEFAULT_SCALE_FACTOR, DEFAULT_SIZE
from kerasgan.metrics.stats_cache import source_features
from kerasgan.recipes import load_run


def add_fid_weights_args(group):
    """--fid-weights and --fid-batch-size (the training commands take them from their config)."""
    group.add_argument("--fid-weights", default="imagenet",
                       help="InceptionV3 no-top weights: imagenet (Keras' download, cached in "
                            "~/.keras/models), a local .h5 file, or random (untrained network: "
                            "offline smoke tests only, scores mean nothing)")
    group.add_argument("--fid-batch-size", type=cli.positive_int, default=50,
                       help="images per Inception forward pass")


def build_parser(prog="kerasgan evaluate"):
    parser = cli.ArgumentParser(
        prog=prog,
        description="FID and KID of a generator, two image folders, or a CycleGAN pair.",
    )
    source = parser.add_argument_group("what to score (one of)")
    source.add_argument("--model", help="an exported generator: exports/NAME (newest version) "
                                        "or exports/NAME/VERSION")
    source.add_argument("--run", help="a DCGAN run directory, runs/NAME (see --checkpoint)")
    source.add_argument("--folders", nargs=2, metavar=("A", "B"),
                        help="score the images in A against those in B (B's statistics are cached)")
    source.add_argument("--x2y", help="CycleGAN G: X -> Y export; gives FID(Y) of G(X) against Y")
    source.add_argument("--y2x", help="CycleGAN F: Y -> X export; gives FID(X) of F(Y) against X")

    options = parser.add_argument_group("settings")
    options.add_argument("--checkpoint", default="latest", choices=("latest", "best"),
                         help="which checkpoint of --run")
    options.add_argument("--dataset", default=None,
                         help="real images for --model/--run: shapes, grumpifycat or a TFDS name "
                              "(default: the run's training data)")
    options.add_argument("--data-dir", "--data_dir", default=None,
                         help="real images for --model/--run: a folder (or the data root of --dataset)")
    options.add_argument("--num-images", type=cli.positive_int, default=None,
                         help="real images to generate (shapes) or read at most (TFDS)")
    options.add_argument("--x-dir", help="domain X images (CycleGAN)")
    options.add_argument("--y-dir", help="domain Y images (CycleGAN)")
    options.add_argument("--image-size", type=cli.positive_int, default=None,
                         help="side the folder images are centre-cropped and resized to (default: "
                              "the translators' training size, else the first image's shorter side)")
    options.add_argument("--num-samples", "--fid-samples", type=cli.positive_int, default=None,
                         help="generated images (default: as many as the real set, 1000 to 10000)")
    options.add_argument("--seed", type=int, default=0,
                         help="noise seed (and the data seed of --dataset shapes)")
    options.add_argument("--save-samples", metavar="DIR", default=None,
                         help="also write the generated images to DIR as PNGs (for reference FID tools)")
    options.add_argument("--label-accuracy", action="store_true",
                         help="instead of FID: per-attribute label accuracy of a conditional --run or --model, "
                              "judged by a classifier trained on the labelled real images (and its accuracy on "
                              "held-back real ones)")
    options.add_argument("--json", action="store_true", help="print the results as JSON")
    add_fid_weights_args(options)

    detection = parser.add_argument_group("detection rate (--detector)")
    detection.add_argument("--detector", metavar="CASCADE.xml",
                           help="instead of FID: the share of generated (--model/--run) or folder A's images in "
                                "which this OpenCV Haar/LBP cascade finds at least one object, beside the same "
                                "share of the real (folder B's) images. The pip package opencv-python-headless "
                                "ships common cascades in cv2.data.haarcascades, e.g. "
                                "haarcascade_frontalcatface.xml")
    detection.add_argument("--detector-size", type=cli.non_negative_int, default=DEFAULT_SIZE,
                           help="shorter side (px) each image is resized to before detecting, so a small sample "
                                "is not below the cascade's 24 px window; 0 keeps each image's own size")
    detection.add_argument("--scale-factor", type=float, default=DEFAULT_SCALE_FACTOR,
                           help="growth of the cascade's search window from one scale to the next (above 1; "
                                "smaller is slower and finds more)")
    detection.add_argument("--min-neighbors", type=cli.non_negative_int, default=DEFAULT_MIN_NEIGHBORS,
                           help="overlapping raw hits a detection needs (higher: fewer false detections)")
    return parser


# -- inputs -------------------------------------------------------------------------------


def check_sources(args):
    """Which kind of evaluation the flags ask for; a UserError for incomplete combinations."""
    translators = bool(args.x2y or args.y2x)
    chosen = [flag for flag, given in (("--model", args.model), ("--run", args.run),
                                       ("--folders", args.folders), ("--x2y/--y2x", translators))
              if given]
    if len(chosen) != 1:
        raise UserError("choose exactly one of --model, --run, --folders, --x2y/--y2x"
                        + (f" (got {', '.join(chosen)})" if chosen else ""))
    if translators and not (args.x_dir and args.y_dir):
        raise UserError("--x2y/--y2x need both --x-dir and --y-dir (inputs and references)")
    if not translators and (args.x_dir or args.y_dir):
        raise UserError("--x-dir/--y-dir go with --x2y/--y2x")
    if (args.folders or translators) and (args.dataset or args.data_dir or args.save_samples):
        raise UserError("--dataset/--data-dir/--save-samples go with --model/--run")
    return chosen[0]


def check_paths(args):
    """Fails on a missing folder or model before the slow Inception network is built."""
    for flag, path in (("--x-dir", args.x_dir), ("--y-dir", args.y_dir),
                       *(("--folders", path) for path in args.folders or ())):
        if path:
            check_folder(path, flag)
    for flag, path in (("--model", args.model), ("--x2y", args.x2y), ("--y2x", args.y2x)):
        if path:
            resolve_export(path, flag)
    if args.run and not Path(args.run, "config.json").expanduser().exists():
        raise MissingPath(f"not a run directory: {Path(args.run, 'config.json')} not found")


def check_folder(path, flag):
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise MissingPath(f"{flag}: image folder not found: {folder}")
    return folder


def resolve_export(path, flag="--model"):
    """The version folder of an export (exports/NAME: its newest version), as `generate` finds it."""
    if not Path(path).expanduser().is_dir():
        raise MissingPath(f"{flag}: model directory not found: {Path(path).expanduser()}")
    return find_export(path)


def load_signature(path):
    """The export's serving_default function, and the loaded object that owns its variables."""
    loaded = load_saved_model(path)
    return loaded.signatures["serving_default"], loaded


def first_image_side(folder):
    """The shorter side of the folder's first image: the default size to load folders at."""
    return min(read_rgb(list_image_files(folder)[0]).shape[:2])


# -- generators ---------------------------------------------------------------------------


def exported_generator(version_dir):
    """(generate_fn, training config) of an exported generator, conditional ones included."""
    metadata = read_metadata(version_dir)
    kind = metadata.get("kind", "generator")
    if kind not in GENERATOR_KINDS:
        raise UserError(f"{version_dir} is a {kind}, not a generator: score translators with --x2y/--y2x")
    serve, loaded = load_signature(version_dir)
    specs = serve.structured_input_signature[1]
    label_names = metadata.get("label_names", {})
    latent = metadata.get("latent", "normal")

    # The signature only holds weak references to the variables; `loaded` must stay alive.
    def generate(batch_size, seed, _keep_alive=loaded):
        inputs = draw_inputs(specs, batch_size, label_names, latent, seed)
        return serve(**{name: tf.constant(value) for name, value in inputs.items()})["images"].numpy()

    return generate, metadata.get("config", {})


def run_generator(run_dir, tag):
    """(generate_fn, training config) of a run's checkpoint, the trainer rebuilt from config.json."""
    recipe = load_run(run_dir, tag)
    if not hasattr(recipe, "input_label_names"):
        raise UserError(f"{run_dir} is a {type(recipe).__name__} run; score it through its export: --model "
                        "exports/NAME (diffusion) or --x2y/--y2x (CycleGAN)")
    sampler = generator_sampler(recipe.generator, recipe.input_label_names(), recipe.config.latent)
    return sampler, recipe.run.load_config()


def saving_samples(generate_fn, folder):
    """`generate_fn` that also writes every image it returns as folder/NNNNNN.png."""
    folder = Path(folder).expanduser()
    written = 0

    def generate(batch_size, seed):
        nonlocal written
        images = generate_fn(batch_size, seed)
        for image in to_uint8(np.asarray(images)):
            save_png(image, folder / f"{written:06d}.png")
            written += 1
        return images

    return generate


def real_image_set(args, config, image_size):
    """--dataset/--data-dir when given, else the training data recorded in `config`."""
    if args.dataset or args.data_dir:
        return load_image_set(args.dataset, args.data_dir, image_size, args.seed, args.num_images)
    if ("dataset" not in config and "data_dir" not in config) or config.get("dataset") == "tf.data":
        raise UserError("pass --data-dir or --dataset: this model does not record its training data")
    return load_image_set(config.get("dataset"), config.get("data_dir"), image_size,
                          config.get("seed", 0), config.get("num_images"))


def generator_and_real_images(args):
    """(generate_fn, path, real images, image size, sample count) of --model (an export) or --run
    (a checkpoint), the real images read at the generator's size."""
    if args.model:
        path = resolve_export(args.model)
        generate, config = exported_generator(path)
    else:
        path = Path(args.run)
        generate, config = run_generator(path, args.checkpoint)
    image_size = generate(1, args.seed).shape[1]
    data = real_image_set(args, config, image_size)
    return generate, path, data, image_size, args.num_samples or default_num_samples(len(data))


def evaluate_generator(args, extractor):
    """FID and KID of an exported generator (--model) or a run's checkpoint (--run)."""
    generate, path, data, image_size, num_samples = generator_and_real_images(args)
    print(f"scoring {num_samples} images from {path} against {len(data)} real images "
          f"({data.name}, {image_size}x{image_size}); {extractor.extractor_id}", file=sys.stderr)
    real = real_statistics(data, extractor, tag=data.name)
    if args.save_samples:
        generate = saving_samples(generate, args.save_samples)
    features = generated_features(generate, extractor, num_samples, extractor.batch_size, args.seed)
    return {**fid_and_kid(features, real), "generated_images": num_samples,
            "real_images": len(data), "image_size": image_size,
            "weights": extractor.extractor_id}


# -- label accuracy -----------------------------------------------------------------------


def labelled_export_sampler(version_dir):
    """(sample(count, seed) -> (uint8 images, {attr: ids}), label_names, training config) of an export."""
    metadata = read_metadata(version_dir)
    label_names = metadata.get("label_names") or {}
    config = metadata.get("config", {})
    if metadata.get("kind") != "conditional_generator" or not label_names or config.get("model") == "infogan":
        raise UserError(f"{version_dir} is not a conditional generator (cgan, cdcgan): label accuracy needs "
                        "labels to check")
    serve, loaded = load_signature(version_dir)
    specs = serve.structured_input_signature[1]

    def sample(count, seed, _keep_alive=loaded):
        inputs = draw_inputs(specs, count, label_names, metadata.get("latent", "normal"), seed)
        images = serve(**{name: tf.constant(value) for name, value in inputs.items()})["images"].numpy()
        return images, {a: inputs[a] for a in label_names}

    return sample, label_names, config


def labelled_run_sampler(run_dir, tag):
    """As `labelled_export_sampler`, for a run's checkpoint."""
    from kerasgan.config import CONDITIONAL
    from kerasgan.metrics.label_accuracy import labelled_sampler

    recipe = load_run(run_dir, tag)
    model = getattr(recipe.config, "model", type(recipe).__name__)
    if model not in CONDITIONAL:
        raise UserError(f"{run_dir} is a {model} run: label accuracy needs a conditional model (cgan, cdcgan)")
    label_names = recipe.label_names
    return labelled_sampler(recipe.generator, label_names, recipe.config.latent), label_names, recipe.run.load_config()


def labelled_image_set(args, config, image_size):
    """The real images with their labels: --dataset/--data-dir, else the run's training data."""
    if args.dataset or args.data_dir:
        source = (args.dataset, args.data_dir, image_size, args.seed, args.num_images)
    elif config.get("dataset") == "tf.data" or ("dataset" not in config and "data_dir" not in config):
        raise UserError("pass --data-dir or --dataset: this model does not record its training data")
    else:
        source = (config.get("dataset"), config.get("data_dir"), image_size, config.get("seed", 0),
                  config.get("num_images"))
    keys = tuple(k.strip() for k in config.get("label_keys", "label").split(",") if k.strip())
    return load_image_set(*source, with_labels=True, labels_csv=config.get("labels_csv") if not args.dataset else None,
                          label_keys=keys)


def evaluate_label_accuracy(args):
    """Per-attribute label accuracy of a conditional generator (--model or --run)."""
    from kerasgan.metrics.label_accuracy import MAX_JUDGE_IMAGES, fit_label_judge, judge_samples, report

    if args.model:
        path = resolve_export(args.model)
        sample, label_names, config = labelled_export_sampler(path)
    else:
        path = Path(args.run)
        sample, label_names, config = labelled_run_sampler(path, args.checkpoint)
    image_size = np.asarray(sample(1, args.seed)[0]).shape[1]
    data = labelled_image_set(args, config, image_size)
    for attribute, names in label_names.items():
        if list(data.label_names.get(attribute, [])) != list(names):
            raise UserError(f"the real images' {attribute!r} classes {data.label_names.get(attribute)} are not the "
                            f"model's {list(names)}: give the labelled data it was trained on")
    num_samples = args.num_samples or 1024
    print(f"label accuracy of {num_samples} images from {path}; judge trained on {len(data)} labelled real "
          f"images ({data.name}, {image_size}x{image_size}; at most {MAX_JUDGE_IMAGES:,} spread over them) but a "
          "held-back fifth", file=sys.stderr)
    judge = fit_label_judge(data, {a: data.labels[a] for a in label_names}, label_names, seed=args.seed,
                            progress=True)
    generated, spread = judge_samples(sample, judge, num_samples, seed=args.seed)
    return {**report(generated, judge, spread), "generated_images": num_samples, "real_images": len(data),
            "image_size": image_size}


# -- detection rate -----------------------------------------------------------------------


def detector_from_args(args):
    """The cascade of --detector with its settings (fails on a bad file before anything slow)."""
    from kerasgan.metrics.detector import Detector

    return Detector(args.detector, size=args.detector_size or None, scale_factor=args.scale_factor,
                    min_neighbors=args.min_neighbors)


def evaluate_detection(args, detector, kind):
    """Detection rates of generated against real images (--model/--run) or of folder A against B."""
    from kerasgan.metrics.detector import detection_rate, generated_detection_rate

    if kind == "--folders":
        folder_a, folder_b, images_a, images_b, size = folder_pair(args)
        print(f"detecting in {len(images_a)} images of {folder_a} and {len(images_b)} of {folder_b} "
              f"({size}x{size}); {detector.describe()}", file=sys.stderr)
        rate_a = detection_rate(images_a, detector, progress=True, description=f"detecting in {folder_a.name}")
        rate_b = detection_rate(images_b, detector, progress=True, description=f"detecting in {folder_b.name}")
        return {"detected_a": rate_a["rate"], "detected_b": rate_b["rate"], "images_a": len(images_a),
                "images_b": len(images_b), "image_size": size, "detector": detector.describe()}
    generate, path, data, image_size, num_samples = generator_and_real_images(args)
    print(f"detecting in {num_samples} images from {path} and {len(data)} real images ({data.name}, "
          f"{image_size}x{image_size}); {detector.describe()}", file=sys.stderr)
    if args.save_samples:
        generate = saving_samples(generate, args.save_samples)
    generated = generated_detection_rate(generate, detector, num_samples, seed=args.seed, progress=True)
    real = detection_rate(data, detector, progress=True, description="detecting in real images")
    return {"detected_generated": generated["rate"], "detected_real": real["rate"],
            "generated_images": num_samples, "real_images": len(data), "image_size": image_size,
            "detector": detector.describe()}


# -- folders and translators --------------------------------------------------------------


def folder_pair(args):
    """(folder A, folder B, their images, image size) of --folders, read at --image-size (default:
    the side of A's first image)."""
    folder_a, folder_b = (check_folder(path, "--folders") for path in args.folders)
    size = args.image_size or first_image_side(folder_a)
    return folder_a, folder_b, folder_source(folder_a, size), folder_source(folder_b, size), size


def evaluate_folders(args, extractor):
    """FID and KID of the images in folder A against those in folder B."""
    folder_a, folder_b, images_a, images_b, size = folder_pair(args)
    print(f"scoring {len(images_a)} images of {folder_a} against {len(images_b)} of {folder_b} "
          f"({size}x{size}); {extractor.extractor_id}", file=sys.stderr)
    reference = real_statistics(images_b, extractor, tag=folder_b.name)
    return {**fid_and_kid(source_features(images_a, extractor), reference), "images_a": len(images_a),
            "images_b": len(images_b), "image_size": size, "weights": extractor.extractor_id}


def translate(serve, images, batch_size):
    """uint8 images through a translator's serving_default, in batches."""
    return np.concatenate([serve(images=tf.constant(images[start:start + batch_size]))["images"].numpy()
                           for start in range(0, len(images), batch_size)])


# Output domain first, so FID(X) comes before FID(Y) as in the reports.
DIRECTIONS = (("y2x", "y", "x"), ("x2y", "x", "y"))  # (flag, input domain, output domain)


def training_size(exports):
    """The image size the translators were trained at, from their export metadata."""
    sizes = [read_metadata(path).get("image_size") for path in exports]
    return next((size for size in sizes if size), None)


def evaluate_translators(args, extractor):
    """Per-domain FID as CycleGAN reports tabulate it: FID(X) of F(Y) against X, FID(Y) of G(X)
    against Y."""
    folders = {"x": check_folder(args.x_dir, "--x-dir"), "y": check_folder(args.y_dir, "--y-dir")}
    exports = {flag: resolve_export(getattr(args, flag), f"--{flag}") for flag, _, _ in DIRECTIONS
               if getattr(args, flag)}
    size = args.image_size or training_size(exports.values()) or first_image_side(folders["x"])
    images = {domain: folder_source(folder, size) for domain, folder in folders.items()}
    results = {}
    for flag, source, target in DIRECTIONS:
        if flag not in exports:
            continue
        serve, _loaded = load_signature(exports[flag])
        if "images" not in serve.structured_input_signature[1]:
            raise UserError(f"{exports[flag]} is not an image translator: score generators with --model")
        print(f"FID({target.upper()}): {exports[flag]} on {len(images[source])} {source.upper()} "
              f"images against {len(images[target])} {target.upper()} images ({size}x{size}); "
              f"{extractor.extractor_id}", file=sys.stderr)
        reference = real_statistics(images[target], extractor, tag=folders[target].name)
        features = source_features(images[source], extractor, lambda batch: translate(serve, batch, extractor.batch_size))
        scores = fid_and_kid(features, reference)
        results.update({f"fid_{target}": scores["fid"], f"kid_{target}": scores["kid"],
                        f"kid_{target}_std": scores["kid_std"]})
    return {**results, "x_images": len(images["x"]), "y_images": len(images["y"]),
            "image_size": size, "weights": extractor.extractor_id}


# -- output -------------------------------------------------------------------------------


def format_table(results):
    """The results as two aligned columns, metric and value."""
    width = max(len("metric"), *(len(name) for name in results))
    lines = [f"{'metric':<{width}}  value"]
    for name, value in results.items():
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        lines.append(f"{name:<{width}}  {shown}")
    return "\n".join(lines)


def main(argv=None, prog="kerasgan evaluate"):
    args = build_parser(prog).parse_args(argv)
    information_to_stderr()  # stdout holds the results alone (what was compared goes to stderr)
    results = results_for(args, check_sources(args))
    print(json.dumps(results, indent=2) if args.json else format_table(results))
    return results


def results_for(args, kind):
    """The results of the measure the flags ask for (`kind`: which of the sources was given)."""
    check_paths(args)
    if args.detector:
        if args.label_accuracy or kind == "--x2y/--y2x":
            raise UserError("--detector scores --model, --run or --folders, and not together with --label-accuracy")
        return evaluate_detection(args, detector_from_args(args), kind)
    if args.label_accuracy:
        if kind not in ("--model", "--run"):
            raise UserError("--label-accuracy scores a conditional generator: give --model or --run")
        return evaluate_label_accuracy(args)
    extractor = inception_from_flag(args.fid_weights, args.fid_batch_size, progress=True)
    if kind == "--folders":
        return evaluate_folders(args, extractor)
    if kind == "--x2y/--y2x":
        return evaluate_translators(args, extractor)
    return evaluate_generator(args, extractor)
