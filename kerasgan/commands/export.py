"""`kerasgan export` / `python -m kerasgan.export`: re-export a run's generator(s) from a checkpoint.

    kerasgan export --run runs/NAME --checkpoint best       # the next version of exports/NAME
"""

from kerasgan.commands import common as cli


def export_run(run_dir, tag="latest", exports_dir="exports", name=None):
    """Exports the generator(s) of a run's `tag` checkpoint; returns the export paths."""
    from kerasgan.recipes import load_run
    from kerasgan.runs import checkpoint_info, trainer_step

    recipe = load_run(run_dir, tag)
    metadata = {"checkpoint": tag, "step": trainer_step(recipe.trainer)}
    scores = checkpoint_info(recipe.run.checkpoint_path(tag))
    metadata.update({k: v for k, v in scores.items() if k in ("fid", "kid", "kid_std")})
    paths = recipe.export(exports_dir, name or recipe.run.root.name, metadata)
    return paths if isinstance(paths, list) else [paths]


def build_parser(prog="kerasgan export"):
    parser = cli.ArgumentParser(prog=prog,
                                description="Export a run's generator(s) from one of its checkpoints.")
    parser.add_argument("--run", required=True, help="a run directory, runs/NAME")
    parser.add_argument("--checkpoint", default="latest", choices=("latest", "best"))
    parser.add_argument("--exports-dir", default="exports")
    parser.add_argument("--name", default=None, help="model name (default: the run's name)")
    return parser


def main(argv=None, prog="kerasgan export"):
    args = build_parser(prog).parse_args(argv)
    paths = export_run(args.run, args.checkpoint, args.exports_dir, args.name)
    for path in paths:
        print(f"export: {path}")
    return paths
