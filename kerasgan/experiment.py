"""Experiments: a grid of configurations -> ordinary runs -> a table, a sample sheet, HParams.

A plan is a TOML file:

    recipe = "gan"                      # or "cyclegan"
    seeds = [0, 1]                      # every cell runs once per seed (default [0])
    description = "what the study asks" # optional, printed at the top of results.md

    [base]                              # options of every cell: GANConfig / CycleGANConfig fields
    model = "dcgan"
    dataset = "grumpifycat"
    data_dir = "path/to/grumpifyCat"
    steps = 2000

    [axes]                              # the product of these lists gives the cells
    data_preprocess = ["basic", "deluxe"]
    spectral_norm = [false, true]

    [[variants]]                        # or (also) an explicit list of named option sets;
    name = "deluxe+diffaug"             # with [axes] too, every variant is crossed with them
    data_preprocess = "deluxe"
    diffaug = "color,translation,cutout"

Paths in a plan (and in `--set`) are relative to the current directory, as on the command
line. `name`, `runs_dir` and `seed` belong to the runner (use `seeds`).

Every cell and seed is an ordinary run directory, `<out>/runs/<cell>__seed-<n>/`
(`kerasgan.runs`): config.json, samples/, logs/, checkpoints/; `load_run` reloads it. The
runner owns these directories: a cell whose directory holds files but no checkpoint (killed
before its first checkpoint) is deleted and started again; one with a checkpoint continues
(`fit(resume=True)`, exact); one that reached its last step and has its result recorded is
skipped. So the same command can be killed at any moment and run again: nothing is lost
but the steps since each cell's last checkpoint.

Beside the runs, `<out>/` receives:
  results.csv   one row per cell and seed: wall time, steps/s, the last losses, FID/KID
  results.md    the same as a Markdown table, mean ± std over the seeds
  sheet.png     one row per cell and seed, from the same fixed noise (GAN) or the same
                test images through each cell's G and F (CycleGAN)
  logs/         TensorBoard's HParams configuration; each cell's hparams and final metrics
                are in its own logs/ (`tensorboard --logdir <out>`, HPARAMS tab)

Each cell also keeps `experiment.json` (its wall time, summed over interruptions, and its
result) and `losses.csv` (every step's losses: the trainers return each step's own values, so
the "last losses" of the table do not depend on where a run was interrupted).
"""

import csv
import difflib
import hashlib
import itertools
import json
import math
import re
import shutil
import statistics
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kerasgan.config import NAME_PATTERN, CycleGANConfig, GANConfig
from kerasgan.errors import MissingPath, UserError
from kerasgan.progress import duration
from kerasgan.progress import log as logger
from kerasgan.runs import checkpoint_step

RECIPES = {"gan": GANConfig, "cyclegan": CycleGANConfig}
report_line = logger.info  # where the runner's lines go unless a caller passes `log`
PLAN_KEYS = ("recipe", "description", "seeds", "base", "axes", "variants")
RUNNER_OWNED = {
    "name": "the runner names every cell's run",
    "runs_dir": "the runs go to <out>/runs (choose <out> with --out)",
    "seed": "give the seeds as seeds = [0, 1] at the top of the plan",
}
PATH_FIELDS = ("data_dir", "x_dir", "y_dir", "labels_csv", "exports_dir")
STATE_FILE = "experiment.json"
LOSSES_FILE = "losses.csv"
SHEET_SEED = 1234  # the noise seed of every sheet row
SHEET_COLUMNS = 8
MAX_NAME = 120
# The "last losses" of a cell: the mean of its last 10% of steps' values, at most 100 steps.
LOSS_WINDOW_FRACTION, LOSS_WINDOW_MAX = 0.1, 100


# -- the plan -------------------------------------------------------------------------------


@dataclass
class Cell:
    """One configuration of the grid with one seed: one run directory."""

    key: str          # the run's directory name
    label: str        # readable, e.g. "data_preprocess=deluxe, spectral_norm=true"
    options: dict     # what this cell sets beyond [base] (its HParams, with the seed)
    seed: int
    config: object    # the resolved GANConfig / CycleGANConfig


@dataclass
class Plan:
    path: Path
    recipe: str
    out: Path
    base: dict
    seeds: list
    varied: list      # the option names the cells differ by (axes, variants' options)
    cells: list = field(default_factory=list)
    description: str = ""
    notes: list = field(default_factory=list)   # one-line remarks for the report (FID, ...)

    @property
    def runs_dir(self):
        return self.out / "runs"

    @property
    def labels(self):
        """The cells' labels in plan order, each once (a label covers every seed)."""
        return list(dict.fromkeys(cell.label for cell in self.cells))


def _kinds(f):
    annotation = f.type
    return getattr(annotation, "__args__", (annotation,))


def _check_option(cls, recipe, key, value, where):
    """The option's value, checked against its field's type and choices; else one UserError."""
    fields = {f.name: f for f in cls.fields()}
    if key in RUNNER_OWNED:
        raise UserError(f"{where} {key}: not a plan option: {RUNNER_OWNED[key]}")
    if key not in fields:
        close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.7)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UserError(f"{where} {key}: unknown {recipe} option{hint}")
    f = fields[key]
    kinds = _kinds(f)
    if isinstance(value, dict):
        raise UserError(f"{where} {key}: a table is not an option value")
    if bool in kinds:
        ok = isinstance(value, bool)
    elif int in kinds:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif float in kinds:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif tuple in kinds:
        ok = (isinstance(value, list) and len(value) == (f.metadata.get("nargs") or len(value))
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))
        value = tuple(float(v) for v in value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        wanted = next((k.__name__ for k in (bool, int, float, tuple, str) if k in kinds), "str")
        wanted = {"tuple": f"a list of {f.metadata.get('nargs')} numbers", "str": "a string"}.get(wanted, wanted)
        raise UserError(f"{where} {key}: {value!r} is not {wanted}")
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        raise UserError(f"{where} {key}: {value!r} is not one of {', '.join(map(str, choices))}")
    return value


def _parse_value(text):
    """A --set value: TOML (true, 3, 1e-4, "x", [0, 1]) or, failing that, the bare string."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def _shown(value):
    """A value as it appears in cell names and tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == "":
        return "off"
    if isinstance(value, (tuple, list)):
        return " ".join(_shown(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _dir_part(text):
    """`text` made of the characters a run name may hold ([A-Za-z0-9._-])."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text.replace(",", ".").replace(" ", "_")) or "_"


def _cell_key(pairs, seed):
    key = "__".join(f"{_dir_part(k)}-{_dir_part(v)}" if k else _dir_part(v) for k, v in pairs) or "base"
    if len(key) > MAX_NAME:
        key = key[:MAX_NAME - 9] + "-" + hashlib.sha1(key.encode()).hexdigest()[:8]
    key = f"{key}__seed-{seed}"
    assert re.fullmatch(NAME_PATTERN, key), key
    return key


def read_plan(path, overrides=(), out=None):
    """The Plan in the TOML file `path`, with `overrides` ("key=value", like `--set`) applied
    to [base] (or to `seeds`), every cell's config resolved and checked.

    Every problem (unparsable TOML, an unknown key or recipe, a bad value, an empty axis, a
    cell no run could use) is one UserError naming the key, raised before anything trains.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingPath(f"plan {path} not found")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file") from None
    where = path.name
    for key in raw:
        if key not in PLAN_KEYS:
            close = difflib.get_close_matches(key, PLAN_KEYS, n=1, cutoff=0.7)
            hint = f" (did you mean {close[0]}?)" if close else f"; a plan has {', '.join(PLAN_KEYS)}"
            if key in RUNNER_OWNED or key in {f.name for c in RECIPES.values() for f in c.fields()}:
                hint = "; options go in [base] or [axes]"
            raise UserError(f"{where}: unknown key {key}{hint}")
    recipe = raw.get("recipe")
    if recipe is None:
        raise UserError(f'{where}: recipe: missing; start the plan with recipe = "gan" or "cyclegan"')
    if recipe not in RECIPES:
        raise UserError(f"{where}: recipe: unknown {recipe!r}; choose gan or cyclegan")
    cls = RECIPES[recipe]

    def table(name, default):
        value = raw.get(name, default)
        if not isinstance(value, type(default)):
            kind = "a table [" + name + "]" if isinstance(default, dict) else "a list of tables [[" + name + "]]"
            raise UserError(f"{where}: {name}: must be {kind}")
        return value

    base = {k: _check_option(cls, recipe, k, v, f"{where} [base]") for k, v in table("base", {}).items()}
    axes = {}
    for key, values in table("axes", {}).items():
        if not isinstance(values, list):
            raise UserError(f"{where} [axes] {key}: must be a list of values, e.g. {key} = [{_toml(values)}]")
        if not values:
            raise UserError(f"{where} [axes] {key}: empty; give at least one value")
        checked = [_check_option(cls, recipe, key, v, f"{where} [axes]") for v in values]
        if len(set(map(repr, checked))) != len(checked):
            raise UserError(f"{where} [axes] {key}: a value appears twice")
        if key in base:
            raise UserError(f"{where} [axes] {key}: also set in [base]; keep one of them")
        axes[key] = checked
    variants = []
    for index, variant in enumerate(table("variants", [])):
        if not isinstance(variant, dict):
            raise UserError(f"{where}: variants: must be a list of tables [[variants]]")
        variant = dict(variant)
        name = variant.pop("name", None)
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise UserError(f"{where} [[variants]] #{index + 1} name: must be a non-empty string")
        options = {k: _check_option(cls, recipe, k, v, f"{where} [[variants]] {name or '#' + str(index + 1)}")
                   for k, v in variant.items()}
        clash = sorted(set(options) & set(axes))
        if clash:
            raise UserError(f"{where} [[variants]] {name or '#' + str(index + 1)} {clash[0]}: also an axis; "
                            "keep one of them")
        variants.append((name, options))
    names = [n for n, _ in variants if n is not None]
    if len(set(names)) != len(names):
        raise UserError(f"{where} [[variants]] name: {next(n for n in names if names.count(n) > 1)!r} "
                        "appears twice")
    seeds = raw.get("seeds", [0])
    varied = list(dict.fromkeys([*axes, *(k for _, options in variants for k in options)]))

    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--set {item}: give KEY=VALUE, e.g. --set steps=200")
        value = _parse_value(text.strip())
        if key == "seeds":
            seeds = value
            continue
        value = _check_option(cls, recipe, key, value, "--set")
        if key in varied:
            raise UserError(f"--set {key}: the plan varies {key} across its cells; edit the plan instead")
        base[key] = value
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        raise UserError(f"{where}: seeds: must be a non-empty list of integers >= 0, e.g. seeds = [0, 1]")
    if len(set(seeds)) != len(seeds):
        raise UserError(f"{where}: seeds: a seed appears twice")
    for key in PATH_FIELDS:
        if key in base and base[key] is not None:
            base[key] = str(Path(base[key]).expanduser().resolve())
    if base.get("fid_weights") not in (None, "imagenet", "random"):
        weights = Path(base["fid_weights"]).expanduser().resolve()
        if not weights.is_file():
            raise MissingPath(f"{where} fid_weights: file not found: {weights}")
        base["fid_weights"] = str(weights)

    out = Path(out).expanduser() if out else path.with_suffix("")
    plan = Plan(path, recipe, out.resolve(), base, seeds, varied, description=str(raw.get("description", "")))
    combos = [(None, {})] if not variants else variants
    seen = {}
    for (variant_name, variant_options), values in itertools.product(combos, itertools.product(*axes.values())):
        options = {**variant_options, **dict(zip(axes, values))}
        pairs = ([("", variant_name)] if variant_name is not None
                 else [(k, _shown(v)) for k, v in variant_options.items()])
        pairs += [(k, _shown(v)) for k, v in zip(axes, values)]
        label = ", ".join(f"{k}={v}" if k else v for k, v in pairs) or "base"
        if label in seen:
            raise UserError(f"{where}: two cells are both {label!r}: give the variants different names or options")
        seen[label] = True
        for seed in seeds:
            key = _cell_key(pairs, seed)
            values_ = {"exports_dir": str(plan.out / "exports"), "verbose": 0, **base, **options,
                       "seed": seed, "name": key, "runs_dir": str(plan.runs_dir)}
            try:
                config = cls.from_dict(values_).resolved()
            except UserError as error:
                raise UserError(f"{where}: cell {label}: {error}") from None
            hparams = {**({"variant": variant_name} if variant_name is not None else {}), **options}
            plan.cells.append(Cell(key, label, {**hparams, "seed": seed}, seed, config))
    return plan


def _toml(value):
    return json.dumps(value) if not isinstance(value, bool) else ("true" if value else "false")


def check_fid(plan, log=report_line):
    """Turns FID/KID off in every cell, with one line saying why, when the plan asks for the
    ImageNet Inception weights and they cannot be had (offline, no cached copy); notes
    random-weight scores as meaningless. Returns the plan."""
    every = [getattr(cell.config, "fid_every", 0) for cell in plan.cells]
    if not any(every):
        plan.notes.append("FID/KID: not computed (fid_every = 0).")
        return plan
    weights = {cell.config.fid_weights for cell in plan.cells}
    if "imagenet" in weights:
        from kerasgan.metrics.inception import imagenet_weights_path

        try:
            imagenet_weights_path(allow_download=True)
        except UserError as error:
            line = (f"FID/KID off: {error}; the table has wall time, steps/s and losses")
            log(line)
            plan.notes.append(line + ".")
            for cell in plan.cells:
                cell.config = cell.config.replace(fid_every=0)
            return plan
    if "random" in weights:
        plan.notes.append("FID/KID computed with random Inception weights (fid_weights = random): "
                          "smoke-test numbers, meaningless as quality scores.")
    return plan


# -- one cell -------------------------------------------------------------------------------


def read_state(root):
    try:
        return json.loads((Path(root) / STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return {}


def write_state(root, state):
    from kerasgan.runs import write_json

    write_json(Path(root) / STATE_FILE, state)


def read_losses(root):
    """[(step, {loss: value})] from a cell's losses.csv, skipping a line cut short by a kill."""
    path = Path(root) / LOSSES_FILE
    if not path.exists():
        return []
    rows = []
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header or header[0] != "step":
            return []
        for row in reader:
            if len(row) != len(header):
                continue
            try:
                rows.append((int(row[0]), {k: float(v) for k, v in zip(header[1:], row[1:])}))
            except ValueError:
                continue
    return rows


def _cell_recorder_class():
    import keras

    from kerasgan.runs import trainer_step

    class CellRecorder(keras.callbacks.Callback):
        """Records a cell's per-step losses (losses.csv) and its time (experiment.json).

        The time is saved just before every checkpoint (the recipes run extra callbacks
        before their own), so after a kill it counts the work the checkpoint kept (scaled down
        when the kill fell between the two): `wall_s` sums, over the sessions, the time from
        calling fit to the last checkpoint each session left, and `steps_per_s` leaves out each
        session's first step (tracing, compiling).
        """

        def __init__(self, root, started, checkpoint_every):
            super().__init__()
            self.root = Path(root)
            self.started = started
            self.checkpoint_every = checkpoint_every
            self.handle = None
            self.first = self.last = None  # (step, time) of this session's first and last step

        def on_train_begin(self, logs=None):
            start = trainer_step(self.model)
            state = read_state(self.root)
            known = int(state.get("step", 0))
            if start == 0:
                state = {}
            elif known != start and known > 0:  # the checkpoint moved past the last record
                scale = start / known
                state = {**state, "wall_s": state.get("wall_s", 0.0) * scale, "estimated": True}
            self.base = {"wall_s": state.get("wall_s", 0.0), "timed_steps": state.get("timed_steps", 0),
                         "timed_s": state.get("timed_s", 0.0), "sessions": state.get("sessions", 0)}
            self.base_state = {k: v for k, v in state.items() if k not in self.base}
            kept = [(step, values) for step, values in read_losses(self.root) if step <= start]
            self.header = ["step", *kept[0][1]] if kept else None
            with open(self.root / LOSSES_FILE, "w", newline="") as handle:
                writer = csv.writer(handle)
                if self.header:
                    writer.writerow(self.header)
                    writer.writerows([step, *(repr(values[k]) for k in self.header[1:])] for step, values in kept)
            self.handle = open(self.root / LOSSES_FILE, "a", newline="")

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            step = trainer_step(self.model)
            values = {k: float(v) for k, v in (logs or {}).items()}
            if self.header is None:
                self.header = ["step", *values]
                self.handle.write(",".join(self.header) + "\n")
            self.handle.write(",".join([str(step), *(repr(values.get(k, math.nan)) for k in self.header[1:])]) + "\n")
            self.handle.flush()
            if self.first is None:
                self.first = (step, now)
            self.last = (step, now)
            if step % self.checkpoint_every == 0:
                self.save()

        def steps_per_s(self):
            steps = self.base["timed_steps"] + (self.last[0] - self.first[0] if self.first else 0)
            seconds = self.base["timed_s"] + (self.last[1] - self.first[1] if self.first else 0.0)
            return steps / seconds if seconds > 0 else math.nan

        def on_train_end(self, logs=None):
            self.save()
            self.close()

        def save(self):
            """experiment.json for the checkpoint just written (at the last step seen)."""
            if self.last is None:
                return
            step, now = self.last
            state = {**self.base_state, "step": step,
                     "wall_s": self.base["wall_s"] + (now - self.started),
                     "timed_steps": self.base["timed_steps"] + (step - self.first[0]),
                     "timed_s": self.base["timed_s"] + (now - self.first[1]),
                     "sessions": self.base["sessions"] + 1}
            write_state(self.root, state)

        def close(self):
            if self.handle is not None:
                self.handle.close()
                self.handle = None

    return CellRecorder


def _recipe(config):
    if isinstance(config, CycleGANConfig):
        from kerasgan.recipes.cyclegan import CycleGAN

        return CycleGAN(config)
    from kerasgan.recipes.gan import GAN

    return GAN(config)


def cell_status(cell):
    """"done", "partial" (a checkpoint to resume), "stale" (files, no checkpoint) or "new"."""
    from kerasgan.runs import Run

    run = Run(Path(cell.config.runs_dir) / cell.key)
    if run.has_checkpoint():
        done = read_state(run.root).get("result") is not None
        total = cell.config.steps or _steps_total(run)  # the plan's steps may have grown since
        return "done" if done and total and checkpoint_step(run) >= total else "partial"
    return "stale" if run.root.is_dir() and any(run.root.iterdir()) else "new"


def _steps_total(run):
    try:
        return int(run.load_config().get("steps_total") or 0)
    except UserError:
        return 0


def _check_same_run(cell, run):
    """A cell's existing run must have been trained with the cell's options."""
    from kerasgan.recipes import run_config

    saved = run_config(run)
    # An option the cell leaves unset (None) is settled by the run from its data (channels).
    differences = [d for d in cell.config.differences(saved) if d[1] is not None]
    if differences:
        listing = ", ".join(f"{name} = {_shown(mine)} (run: {_shown(theirs)})" for name, mine, theirs in differences)
        raise UserError(f"{run.root} was trained with other options than the plan's cell {cell.label}: "
                        f"{listing}; restore the plan, or use another --out")


def run_cell(cell, log=report_line):
    """Trains (or resumes, or skips) one cell; records its result. Returns its state dict."""
    import keras

    from kerasgan.runs import Run

    run = Run(Path(cell.config.runs_dir) / cell.key)
    status = cell_status(cell)
    if status == "done":
        _check_same_run(cell, run)
        log(f"{cell.key}: done, skipped")
        return read_state(run.root)
    if status == "stale":
        run.lock()  # refuses if another process trains in it
        log(f"{cell.key}: clearing {run.root} (stopped before its first checkpoint)")
        shutil.rmtree(run.root)
        run.unlock()
    resume = status == "partial"
    if resume:
        _check_same_run(cell, run)
    keras.backend.clear_session()  # layer names, as in a fresh process
    started = time.perf_counter()
    recipe = _recipe(cell.config)
    # The cell's own progress is its run's (training.RunProgress, as --verbose says).
    recorder = _cell_recorder_class()(run.root, started, cell.config.checkpoint_every)
    log(f"{cell.key}: {'resuming' if resume else 'training'}")
    try:
        recipe.fit(resume=resume, callbacks=[recorder])
    except SystemExit:
        # Ctrl-C / SIGTERM: fit saved a checkpoint at the last step; record the time up to it.
        recorder.save()
        log(f"{cell.key}: interrupted at step {checkpoint_step(run)}, checkpoint saved; run the same "
            "command again to continue")
        raise
    finally:
        recorder.close()
    return record_result(cell, run)


def record_result(cell, run):
    """The cell's result (from losses.csv, experiment.json, metrics.csv) into experiment.json,
    and its HParams summary into its logs/."""
    state = read_state(run.root)
    total = _steps_total(run)
    step = checkpoint_step(run)
    rows = [(s, values) for s, values in read_losses(run.root) if s <= step]
    window = max(1, min(LOSS_WINDOW_MAX, int(total * LOSS_WINDOW_FRACTION)))
    last = rows[-window:]
    losses = {k: statistics.fmean(values[k] for _, values in last) for k in (last[-1][1] if last else {})}
    result = {"step": step, "wall_s": state.get("wall_s"),
              "steps_per_s": (state["timed_steps"] / state["timed_s"]) if state.get("timed_s") else None,
              **losses, **_fid_scores(run)}
    state = {**state, "step": state.get("step", step), "result": result, "loss_window": window}
    write_state(run.root, state)
    log_hparams(cell, run, result)
    return state


def _fid_scores(run):
    from kerasgan.metrics.callback import METRICS_FILE, read_metrics

    path = run.root / METRICS_FILE
    if not path.exists():
        return {}
    try:
        rows = read_metrics(path)
    except (ValueError, KeyError):
        return {}
    if not rows:
        return {}
    return {"fid_final": rows[-1]["fid"], "fid_best": min(r["fid"] for r in rows),
            "kid_final": rows[-1]["kid"], "kid_best": min(r["kid"] for r in rows)}


def _hparam_value(value):
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    return value


def log_hparams(cell, run, result):
    """The cell's options and final metrics for TensorBoard's HParams dashboard (in its logs/)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    writer = tf.summary.create_file_writer(str(run.logs))
    with writer.as_default():
        hp.hparams({k: _hparam_value(v) for k, v in cell.options.items()}, trial_id=cell.key)
        for name, value in result.items():
            if name != "step" and value is not None and math.isfinite(value):
                tf.summary.scalar(f"result/{name}", value, step=result["step"])
    writer.close()


def log_hparams_config(plan, metric_names):
    """The experiment's HParams configuration (each option's values, the metrics) in <out>/logs."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    folder = plan.out / "logs"
    if folder.is_dir():
        shutil.rmtree(folder)  # written once: the latest report's configuration
    names = list(dict.fromkeys(k for cell in plan.cells for k in cell.options))
    hparams = []
    for name in names:
        values = list(dict.fromkeys(_hparam_value(cell.options.get(name)) for cell in plan.cells))
        same_type = len({type(v) for v in values}) == 1
        hparams.append(hp.HParam(name, hp.Discrete(values) if same_type else None))
    metrics = [hp.Metric(f"result/{name}", display_name=name) for name in metric_names]
    writer = tf.summary.create_file_writer(str(folder))
    with writer.as_default():
        hp.hparams_config(hparams=hparams, metrics=metrics)
    writer.close()


# -- the whole experiment -------------------------------------------------------------------


def run_experiment(plan, log=report_line, cells=None, report=True):
    """Runs every cell of `plan` (or the given subset) in order, then writes the report.
    Returns the report's rows (see `build_report`), or None without `report`."""
    chosen = plan.cells if cells is None else cells
    plan.runs_dir.mkdir(parents=True, exist_ok=True)
    started, trained = time.perf_counter(), 0
    for index, cell in enumerate(chosen):
        # The grid's time left: the cells trained so far this session, at their mean time each.
        left = (f"; about {duration((time.perf_counter() - started) / trained * (len(chosen) - index))} left"
                if trained else "")
        log(f"[{index + 1}/{len(chosen)}] {cell.label}, seed {cell.seed}{left}")
        trains = cell_status(cell) != "done"
        run_cell(cell, log)
        trained += trains
    return build_report(plan, log) if report else None


def build_report(plan, log=report_line, sheet=True):
    """results.csv, results.md, sheet.png and the HParams configuration from the cells that
    have a result. Returns the rows of results.csv as dicts."""
    rows, missing = [], []
    for cell in plan.cells:
        state = read_state(plan.runs_dir / cell.key)
        if cell_status(cell) != "done":
            missing.append(cell)
            continue
        rows.append({"cell": cell.label, "seed": cell.seed, "run": cell.key, **state["result"]})
    if missing:
        log(f"report: {len(missing)} of {len(plan.cells)} runs not finished yet: "
            + ", ".join(c.key for c in missing[:3]) + (" ..." if len(missing) > 3 else ""))
    metric_names = _metric_order(k for row in rows for k in row if k not in ("cell", "seed", "run", "step"))
    plan.out.mkdir(parents=True, exist_ok=True)
    write_results_csv(plan, rows, metric_names)
    (plan.out / "results.md").write_text(results_markdown(plan, rows, metric_names))
    if rows:
        log_hparams_config(plan, metric_names)
        if sheet:
            write_sheet(plan, [c for c in plan.cells if c not in missing])
    log(f"results: {plan.out / 'results.md'}\n         {plan.out / 'results.csv'}"
        + (f"\nsheet:   {plan.out / 'sheet.png'}" if rows and sheet else "")
        + f"\ntensorboard --logdir {plan.out}   (HPARAMS tab: the grid)")
    return rows


TIMING = ("wall_s", "steps_per_s")
SCORES = ("fid_final", "fid_best", "kid_final", "kid_best")
HEADINGS = {"wall_s": "wall time (s)", "steps_per_s": "steps/s", "fid_final": "FID (final)",
            "fid_best": "FID (best)", "kid_final": "KID (final)", "kid_best": "KID (best)"}


def _metric_order(names):
    """Losses first (d_loss, g_loss, then the others as logged), then FID/KID, then timing."""
    names = list(dict.fromkeys(names))
    losses = [n for n in names if n not in TIMING + SCORES]
    losses = sorted(losses, key=lambda n: (n not in ("d_loss", "g_loss"), n != "d_loss", losses.index(n)))
    return losses + [n for n in SCORES if n in names] + [n for n in TIMING if n in names]


def write_results_csv(plan, rows, metric_names):
    columns = ["cell", "seed", *plan.varied, "step", *metric_names, "run"]
    options = {cell.key: cell.options for cell in plan.cells}
    with open(plan.out / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            extra = {k: _shown(options[row["run"]].get(k, plan.base.get(k, ""))) for k in plan.varied}
            writer.writerow({**extra, **{k: ("" if v is None else v) for k, v in row.items()}})


def _mean_std(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return "—"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.4g}"
    return f"{mean:.4g} ± {statistics.stdev(values):.2g}"


def results_markdown(plan, rows, metric_names):
    """The table of results.md: one row per cell, mean ± std over its seeds."""
    cfg = plan.cells[0].config if plan.cells else None
    lines = [f"# {plan.path.stem}", ""]
    if plan.description:
        lines += [plan.description.strip(), ""]
    steps = sorted({row["step"] for row in rows})
    lines += [f"Plan `{plan.path.name}` ({plan.recipe}), {len(plan.labels)} cells x seeds "
              f"{', '.join(map(str, plan.seeds))}; steps: {', '.join(map(str, steps)) or '—'}."]
    if cfg is not None:
        window = max(1, min(LOSS_WINDOW_MAX, int((steps[-1] if steps else 0) * LOSS_WINDOW_FRACTION)))
        lines += [f"Losses: mean of each step's value over the last {window} steps (last 10%, at most "
                  f"{LOSS_WINDOW_MAX}); wall time: training, summed over interruptions; steps/s without "
                  "each session's first step."]
    lines += [note for note in plan.notes] + [""]
    headers = ["cell", "seeds", *(HEADINGS.get(name, name) for name in metric_names)]
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for label in plan.labels:
        mine = [row for row in rows if row["cell"] == label]
        cells = [label, str(len(mine)) if mine else "0 (not run)"]
        cells += [_mean_std([row.get(name) for row in mine]) for name in metric_names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# -- the sample sheet -----------------------------------------------------------------------


def _label_strip(texts, height, padding=2):
    """A white uint8 column with one line of text per row of tiles (rows `height` px apart)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = max(int(measure.textlength(t, font=font)) for t in texts) + 8
    strip = Image.new("RGB", (width, padding + len(texts) * (height + padding)), "white")
    draw = ImageDraw.Draw(strip)
    for i, text in enumerate(texts):
        draw.text((4, padding + i * (height + padding) + max(height // 2 - 6, 0)), text, fill="black", font=font)
    return np.asarray(strip)


def write_sheet(plan, cells):
    """sheet.png: one row per cell and seed. GAN: `sample(8, seed=SHEET_SEED)` from each run's
    latest checkpoint (the same noise for every row). CycleGAN: the same test images of X
    and of Y, then each cell's G(X), then each cell's F(Y)."""
    import keras
    import numpy as np

    from kerasgan.images import make_grid, save_png
    from kerasgan.recipes import load_run

    texts, tiles = [], []
    if plan.recipe == "cyclegan":
        from kerasgan.data.domains import load_domains

        c = cells[0].config
        pair = load_domains(c.dataset, c.x_dir, c.y_dir, c.data_dir, c.x_rel, c.y_rel, c.image_size, c.seed,
                            c.num_images, SHEET_COLUMNS)
        x, y = pair.x_test[:SHEET_COLUMNS], pair.y_test[:SHEET_COLUMNS]
        translated = {}
        for cell in cells:
            keras.backend.clear_session()
            recipe = load_run(plan.runs_dir / cell.key, quiet=True)
            translated[cell.key] = (recipe.translate(x, "x2y"), recipe.translate(y, "y2x"))
        texts.append("X (test images)")
        tiles.append(x)
        for cell in cells:
            texts.append(f"G(X): {cell.label}, seed {cell.seed}")
            tiles.append(translated[cell.key][0])
        texts.append("Y (test images)")
        tiles.append(y)
        for cell in cells:
            texts.append(f"F(Y): {cell.label}, seed {cell.seed}")
            tiles.append(translated[cell.key][1])
    else:
        for cell in cells:
            keras.backend.clear_session()
            recipe = load_run(plan.runs_dir / cell.key, quiet=True)
            texts.append(f"{cell.label}, seed {cell.seed}")
            tiles.append(recipe.sample(SHEET_COLUMNS, seed=SHEET_SEED))
    size = max(t.shape[1] for t in tiles)
    tiles = [t if t.shape[1] == size else _resize(t, size) for t in tiles]
    columns = max(len(t) for t in tiles)
    padded = [np.concatenate([t, np.full((columns - len(t), *t.shape[1:]), 255, np.uint8)]) for t in tiles]
    grid = make_grid(np.concatenate(padded), columns=columns)
    strip = _label_strip(texts, size)
    height = max(grid.shape[0], strip.shape[0])
    sheet = np.full((height, strip.shape[1] + grid.shape[1], 3), 255, np.uint8)
    sheet[:strip.shape[0], :strip.shape[1]] = strip
    sheet[:grid.shape[0], strip.shape[1]:] = grid
    return save_png(sheet, plan.out / "sheet.png")


def _resize(images, size):
    import numpy as np
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(i).resize((size, size), Image.NEAREST)) for i in images])


def describe_cells(plan):
    """One line per cell and seed with its status, for `--dry-run`."""
    return [f"{cell_status(cell):8s} {cell.key}" for cell in plan.cells]


__all__ = ["Plan", "Cell", "read_plan", "check_fid", "run_experiment", "run_cell", "build_report",
           "read_losses", "read_state", "cell_status"]
