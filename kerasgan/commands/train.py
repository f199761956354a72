"""What both training commands share: flags -> config, the resume rule, the run.

On --resume the run's config.json is the truth: the command continues with the options the
run was trained with. Flags that would change what is trained (networks, data, image size,
batch, seed, preprocessing, losses, learning rates, precision) must equal the recorded ones,
or the command stops with one line listing each difference; flags that may change between
sessions (steps, epochs, sample/checkpoint/log frequency, verbosity, XLA, strategy, FID,
export) are taken and recorded.
"""

from pathlib import Path

from kerasgan.commands import common as cli
from kerasgan.config import flags_of
from kerasgan.errors import UserError


def build_parser(config_cls, **kwargs):
    parser = cli.ArgumentParser(**kwargs)
    groups = cli.add_config_args(parser, config_cls)
    groups["run"].add_argument("--resume", action="store_true",
                               help="continue the named run from its last checkpoint, with its recorded options")
    cli.add_xla_switch(groups["run"])
    return parser


def parse(parser, argv):
    """(given options {field: value}, resume flag) from the command line."""
    given = cli.given_options(parser.parse_args(argv))
    resume = given.pop("resume", False)
    return cli.apply_xla_switch(given), resume


def config_from_flags(config_cls, parser, argv):
    """The resolved config some flags describe (no --resume): what scripts and benchmarks build."""
    given, _ = parse(parser, argv)
    return config_cls.from_dict(given).resolved()


def train(recipe_cls, dataset_name, parser, argv):
    """Parses `argv`, settles the config (fresh or resumed) and fits the recipe; returns the Run."""
    given, resume = parse(parser, argv)
    config = config_for(recipe_cls.config_class, given, resume, dataset_name)
    return recipe_cls(config).fit(resume=resume)


def config_for(config_cls, given, resume, dataset_name):
    """The resolved config a training command runs with (see the module docstring)."""
    from kerasgan.recipes import run_config
    from kerasgan.runs import Run

    fresh = config_cls.from_dict(given).resolved()
    if not resume:
        return fresh
    name = fresh.name or fresh.default_name(dataset_name(fresh))
    run = Run(Path(fresh.runs_dir) / name)
    if not run.config_path.exists():
        if run.root.is_dir():
            raise UserError(f"nothing to resume in {run.root}: it has no config.json (run without --resume)")
        raise UserError(f"nothing to resume: {run.root} does not exist (check --name and --runs-dir)")
    saved = run_config(run)
    if not isinstance(saved, config_cls):
        raise UserError(f"{run.root} is a {type(saved).__name__.removesuffix('Config')} run: resume it with "
                        f"`{saved.command} --name {run.root.name} --resume`")
    fields = {f.name: f for f in config_cls.fields()}
    changed = [(key, value) for key, value in given.items()
               if fields[key].metadata.get("changes_run", True)
               and saved.replace(**{key: value}).differences(saved) != []]
    if changed:
        listing = ", ".join(f"{flags_of(fields[k])[0]} {_shown(v)} (run: {_shown(getattr(saved, k))})"
                            for k, v in changed)
        raise UserError(f"--resume continues {run.root} as it was trained; these flags differ from its "
                        f"config.json: {listing}. Drop them, or start a new run with --name NEW")
    allowed = {k: v for k, v in given.items() if not fields[k].metadata.get("changes_run", True)}
    for length, other in (("steps", "epochs"), ("epochs", "steps")):
        if length in allowed and other not in allowed:
            allowed[other] = None  # the new length replaces the recorded one, in whichever unit
    return saved.replace(**{**allowed, "name": name}).check()


def _shown(value):
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return "(unset)" if value is None else str(value)
