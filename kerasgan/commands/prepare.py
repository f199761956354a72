"""`kerasgan prepare`: write a folder (or a TFDS split) as one zip of images at the training size.

    kerasgan prepare --data-dir path/to/photos --image-size 128 --out faces128.zip
    kerasgan prepare --data-dir path/to/classes --labelled --image-size 64 --out classes64.zip
    kerasgan prepare --data-dir path/to/photos --labels-csv labels.csv --image-size 64 --out attrs64.zip
    train_dcgan.py --data-dir faces128.zip --image-size 128

Each image is decoded, centre-cropped and resized once, as training would, and stored as PNG
(exactly the pixels training on the folder sees) or JPEG (quality 95, about 4x smaller), with
its labels. Training then reads small images from one file in any order instead of decoding
large photos at every step (kerasgan/data/pack.py).
"""

from kerasgan.commands import common as cli


def build_parser():
    parser = cli.ArgumentParser(prog="kerasgan prepare",
                                description="Write images at the training size into one zip that training streams.")
    parser.add_argument("--data-dir", "--data_dir", default=None,
                        help="a folder of images (searched recursively); the data root of --dataset grumpifycat")
    parser.add_argument("--dataset", default=None, help="grumpifycat (course layout) or a TensorFlow Datasets name")
    parser.add_argument("--image-size", "--image_size", type=cli.positive_int, required=True,
                        help="side the images are centre-cropped and resized to")
    parser.add_argument("--out", required=True, help="the zip to write (never overwritten)")
    parser.add_argument("--format", default="png", choices=("png", "jpeg"),
                        help="png: lossless (default); jpeg: quality 95, smaller")
    parser.add_argument("--labelled", action="store_true",
                        help="label the images by their class subfolder (a TFDS dataset by its label)")
    parser.add_argument("--labels-csv", default=None, help="label the images from a CSV (see train_dcgan.py --help)")
    parser.add_argument("--num-images", type=cli.positive_int, default=None,
                        help="at most this many images, spread evenly over the folder")
    return parser


def main(argv=None):
    from kerasgan.data.pack import write_pack
    from kerasgan.data.sources import load_image_set

    args = build_parser().parse_args(argv)
    source = load_image_set(args.dataset, args.data_dir, args.image_size, num_images=args.num_images,
                            with_labels=args.labelled, labels_csv=args.labels_csv)
    print(f"preparing {len(source)} images of {source.name} at {args.image_size} px", flush=True)
    out = write_pack(source, args.out, args.format, log=lambda line: print(line, flush=True))
    skipped = len(source.unreadable)
    print(f"wrote {out}" + (f" ({skipped} unreadable file(s) replaced by their neighbours)" if skipped else ""))
    return out
