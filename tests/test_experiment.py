"""Experiments: plans, the grid's runs (skip, resume, clear), results, sheet, HParams, kill safety."""

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, script_env
from kerasgan import experiment
from kerasgan.commands import experiment as experiment_cmd
from kerasgan.commands import main as kerasgan_main
from kerasgan.runs import checkpoint_info
from kerasgan.errors import UserError

TINY = """
recipe = "gan"
seeds = [0, 1]

[base]
model = "dcgan"
dataset = "shapes"
image_size = 16
width = 4
noise_dim = 16
num_images = 32
batch_size = 8
steps = {steps}
checkpoint_every = 20
sample_every = 1000
no_export = true
fid_every = 0

[axes]
spectral_norm = [false, true]
"""
LOSSES = ("d_loss", "g_loss", "d_real", "d_fake")


def write_plan(tmp_path, text, name="plan.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def hparams_events(folder):
    """The hparams plugin payloads (bytes) in the TensorBoard events files under `folder`."""
    from tensorflow.compat.v1 import train as v1_train

    found = []
    for events in sorted(Path(folder).glob("events.out.tfevents.*")):
        for event in v1_train.summary_iterator(str(events)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "hparams":
                    found.append((value.tag, value.metadata.plugin_data.content))
    return found


def scalar_tags(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    return set(accumulator.Tags()["tensors"])


# -- the whole grid, killed and run again ------------------------------------------------------


def test_a_tiny_grid_runs_and_survives_sigkill_with_the_same_table(tmp_path):
    """Two cells (one axis value, two seeds), trained straight and again through a SIGKILL.
    The product of axes and seeds, and the cells' names, are checked without training below."""
    steps = 200
    plan_path = write_plan(tmp_path, TINY.format(steps=steps).replace("[false, true]", "[true]"))

    # Uninterrupted, in this process.
    lines = []
    reference = experiment.read_plan(plan_path, out=tmp_path / "reference")
    assert [c.key for c in reference.cells] == ["spectral_norm-true__seed-0", "spectral_norm-true__seed-1"]
    experiment.check_fid(reference, lines.append)
    experiment.run_experiment(reference, lines.append)
    out = reference.out
    for name in ("results.csv", "results.md", "sheet.png"):
        assert (out / name).is_file(), name
    rows = read_csv(out / "results.csv")
    assert [(r["cell"], r["seed"], r["step"]) for r in rows] == [
        ("spectral_norm=true", "0", str(steps)), ("spectral_norm=true", "1", str(steps))]
    for row in rows:
        assert all(np.isfinite(float(row[k])) for k in (*LOSSES, "wall_s", "steps_per_s")), row
        assert row["spectral_norm"] == "true"
    markdown = (out / "results.md").read_text()
    assert "| spectral_norm=true | 2 |" in markdown and " ± " in markdown
    assert "FID/KID: not computed" in markdown
    sheet = np.asarray(Image.open(out / "sheet.png"))
    assert sheet.shape[0] >= 2 * 16 and sheet.shape[1] >= experiment.SHEET_COLUMNS * 16
    # HParams: the experiment's configuration once, each cell's hparams and final metrics in its logs.
    assert any(tag == "_hparams_/experiment" for tag, _ in hparams_events(out / "logs"))
    for cell in reference.cells:
        logs = reference.runs_dir / cell.key / "logs"
        tags = [tag for tag, _ in hparams_events(logs)]
        assert "_hparams_/session_start_info" in tags, cell.key
        assert {"result/g_loss", "result/wall_s"} <= scalar_tags(logs)

    # The same plan in a subprocess, SIGKILLed once the first cell has a checkpoint...
    killed_out = tmp_path / "killed"
    plan = experiment.read_plan(plan_path, out=killed_out)
    first, last = plan.runs_dir / plan.cells[0].key, plan.runs_dir / plan.cells[-1].key
    last.mkdir(parents=True)  # ...and the last cell's folder left behind before any checkpoint
    (last / "config.json").write_text("{}")
    (last / "samples").mkdir()
    command = [sys.executable, "-m", "kerasgan", "experiment", str(plan_path), "--out", str(killed_out)]
    process = subprocess.Popen(command, cwd=tmp_path, env=script_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while not (first / "checkpoints" / "latest.weights.h5").exists():
            assert process.poll() is None, process.communicate()[0][-3000:]
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    killed_at = checkpoint_info(first / "checkpoints" / "latest.weights.h5")["step"]
    assert 0 < killed_at < steps, "the kill came after the first cell had finished: nothing was tested"
    assert experiment.cell_status(plan.cells[0]) == "partial"
    assert experiment.cell_status(plan.cells[-1]) == "stale"

    # ...then run again: the first cell resumes from its checkpoint, the stale folder is cleared.
    lines = []
    experiment.check_fid(plan, lines.append)
    experiment.run_experiment(plan, lines.append)
    log = "\n".join(lines)
    assert f"{plan.cells[0].key}: resuming" in log, log
    assert f"{plan.cells[-1].key}: clearing" in log, log
    state = experiment.read_state(first)
    assert state["sessions"] == 2 and state["step"] == steps
    assert [s for s, _ in experiment.read_losses(first)] == list(range(1, steps + 1))
    assert experiment.read_state(last)["sessions"] == 1

    again = read_csv(killed_out / "results.csv")
    key = ("cell", "seed", "step", *LOSSES)
    assert [{k: r[k] for k in key} for r in again] == [{k: r[k] for k in key} for r in rows]

    # A third run trains nothing: every cell is done.
    lines = []
    experiment.run_experiment(plan, lines.append)
    assert sum(": done, skipped" in line for line in lines) == len(plan.cells)
    assert read_csv(killed_out / "results.csv") == again


def test_extra_callbacks_record_a_step_before_its_checkpoint(tmp_path):
    """The cell's record (experiment.json) must never fall behind its checkpoint: a SIGKILL
    between the two once left a resumed cell counting one session instead of two. So the
    recipes run extra callbacks before their own Checkpoint: at every checkpoint step, the
    extra callback finds the previous checkpoint on disk, not this step's. (Broken on purpose,
    run callbacks first: it saw step 2's checkpoint at step 2, and failed.)"""
    import keras

    from kerasgan.recipes.gan import GAN

    gan = GAN(model="dcgan", image_size=16, width=4, noise_dim=8, num_images=16, batch_size=4, steps=4,
              checkpoint_every=2, sample_every=1000, no_export=True, verbose=0, runs_dir=str(tmp_path))
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            latest = next(tmp_path.glob("*/checkpoints/latest.weights.h5"), None)
            seen.append(checkpoint_info(latest)["step"] if latest else 0)

    gan.fit("shapes", callbacks=[Spy()])
    assert seen == [0, 0, 2, 2]


# -- bad plans: one line naming the key, before anything trains ----------------------------------

GOOD_BASE = '[base]\ndataset = "shapes"\nsteps = 2\n'


@pytest.mark.parametrize("text, overrides, named", [
    ('recipe = "gan"\n[base]\nlernrate = 0.1\n', (), "lernrate"),
    ('recipe = "gan"\n[base]\nsteps = "many"\n', (), "steps"),
    ('recipe = "gan"\n[base]\nspectral_norm = 1\n', (), "spectral_norm"),
    ('recipe = "gan"\n' + GOOD_BASE + '[axes]\nnorm = ["batch", "group"]\n', (), "norm"),
    ('recipe = "gan"\n' + GOOD_BASE + '[axes]\ndiffaug = []\n', (), "diffaug"),
    ('recipe = "gan"\n' + GOOD_BASE + '[axes]\nwidth = 8\n', (), "width"),
    ('recipe = "gan"\n' + GOOD_BASE + '[axes]\nlr = [1e-4, -1.0]\n', (), "--lr"),
    ('recipe = "gan"\n' + GOOD_BASE + '[axes]\ndiffaug = ["colour"]\n', (), "colour"),
    ('recipe = "vae"\n' + GOOD_BASE, (), "recipe"),
    (GOOD_BASE, (), "recipe"),
    ('recipe = "gan"\n[base\nsteps = 2\n', (), "TOML"),
    ('recipe = "gan"\naxis = 3\n' + GOOD_BASE, (), "axis"),
    ('recipe = "gan"\nsteps = 3\n' + GOOD_BASE, (), "steps"),
    ('recipe = "gan"\n' + GOOD_BASE + 'seed = 3\n', (), "seed"),
    ('recipe = "gan"\nseeds = []\n' + GOOD_BASE, (), "seeds"),
    ('recipe = "gan"\n' + GOOD_BASE + '[[variants]]\nname = "a"\n[[variants]]\nname = "a"\n', (), "name"),
    ('recipe = "cyclegan"\n' + GOOD_BASE + '[axes]\nmodel = ["dcgan"]\n', (), "model"),
    ('recipe = "gan"\n' + GOOD_BASE, ("stepz=3",), "stepz"),
    ('recipe = "gan"\n' + GOOD_BASE, ("steps",), "steps"),
    ('recipe = "gan"\n' + GOOD_BASE + '[axes]\nspectral_norm = [false, true]\n', ("spectral_norm=true",),
     "spectral_norm"),
    ('recipe = "gan"\n' + GOOD_BASE, ("seeds=[-1]",), "seeds"),
])
def test_a_bad_plan_is_one_line_naming_the_key(tmp_path, text, overrides, named):
    path = write_plan(tmp_path, text)
    with pytest.raises(UserError) as error:
        experiment.read_plan(path, overrides)
    message = str(error.value)
    assert named in message and "\n" not in message, message
    assert not (tmp_path / "plan").exists()  # nothing was created


def test_a_missing_plan_is_one_line(tmp_path):
    with pytest.raises(UserError, match="not found"):
        experiment.read_plan(tmp_path / "nope.toml")


def test_the_command_prints_one_line_and_exits_2(tmp_path, capsys):
    path = write_plan(tmp_path, 'recipe = "gan"\n[base]\nnorm = "group"\n')
    with pytest.raises(SystemExit) as exit_:
        kerasgan_main.run_main(experiment_cmd.main, [str(path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: plan.toml [base] norm:"), err


# -- names, overrides, the shipped plans --------------------------------------------------------


def test_cells_have_stable_readable_valid_names_and_overrides_apply(tmp_path):
    path = write_plan(tmp_path, 'recipe = "gan"\nseeds = [3]\n' + GOOD_BASE + """
[[variants]]
name = "deluxe+diffaug"
data_preprocess = "deluxe"
diffaug = "color,translation,cutout"

[[variants]]
diffaug = ""

[axes]
lsgan_targets = [[-1, 1, 0], [0, 1, 1]]
""")
    plan = experiment.read_plan(path, ["steps=7", "width=8", "verbose=1", "data_dir=rel/dir", "dataset=folder"])
    keys = [cell.key for cell in plan.cells]
    assert keys == ["deluxe_diffaug__lsgan_targets--1_1_0__seed-3", "deluxe_diffaug__lsgan_targets-0_1_1__seed-3",
                    "diffaug-off__lsgan_targets--1_1_0__seed-3", "diffaug-off__lsgan_targets-0_1_1__seed-3"]
    assert plan.cells[0].label == "deluxe+diffaug, lsgan_targets=-1 1 0"
    assert keys == [c.key for c in experiment.read_plan(path, ["steps=7", "dataset=folder"]).cells]  # stable
    config = plan.cells[0].config
    assert (config.steps, config.width, config.verbose, config.seed) == (7, 8, 1, 3)
    assert config.data_dir == str((Path.cwd() / "rel" / "dir").resolve())
    assert config.runs_dir == str(tmp_path / "plan" / "runs") and config.name == keys[0]
    assert config.exports_dir == str(tmp_path / "plan" / "exports")
    assert plan.cells[0].options == {"variant": "deluxe+diffaug", "data_preprocess": "deluxe",
                                     "diffaug": "color,translation,cutout", "lsgan_targets": (-1.0, 1.0, 0.0),
                                     "seed": 3}
    assert experiment.read_plan(path, ["seeds=[0, 1]", "dataset=folder"]).seeds == [0, 1]


@pytest.mark.parametrize("name, recipe, cells", [
    ("dcgan_cats_ablation", "gan", 6), ("cyclegan_cats_ablation", "cyclegan", 6),
    ("wgan_gp_lambda", "gan", 4), ("batch_norm", "gan", 4),
])
def test_the_shipped_plans_parse(tmp_path, name, recipe, cells):
    plan = experiment.read_plan(ROOT / "experiments" / f"{name}.toml", [f"data_dir={tmp_path}"],
                                out=tmp_path / "out")
    assert plan.recipe == recipe and len(plan.cells) == cells
    assert all(cell.config.data_dir == str(tmp_path) for cell in plan.cells)
    assert len({cell.key for cell in plan.cells}) == cells


def test_the_kerasgan_command_has_experiment(tmp_path, capsys):
    path = write_plan(tmp_path, TINY.format(steps=5))
    kerasgan_main.main(["experiment", str(path), "--dry-run"])
    out = capsys.readouterr().out
    assert "4 runs in" in out and "new      spectral_norm-true__seed-1" in out


def test_without_imagenet_weights_fid_is_turned_off_in_one_line(tmp_path, monkeypatch):
    from kerasgan.metrics import inception

    def offline(allow_download=True):
        raise UserError("InceptionV3 weights for FID are missing (no cached copy, offline?)")

    monkeypatch.setattr(inception, "imagenet_weights_path", offline)
    path = write_plan(tmp_path, TINY.format(steps=5).replace("fid_every = 0", "fid_every = 5"))
    plan = experiment.read_plan(path)
    lines = []
    experiment.check_fid(plan, lines.append)
    assert len(lines) == 1 and lines[0].startswith("FID/KID off: InceptionV3 weights") and "\n" not in lines[0]
    assert all(cell.config.fid_every == 0 for cell in plan.cells)
    random = experiment.check_fid(experiment.read_plan(path, ["fid_weights=random"]), lines.append)
    assert len(lines) == 1 and "meaningless" in random.notes[0]


def test_a_cyclegan_grid_translates_the_same_test_images_on_its_sheet(tmp_path):
    path = write_plan(tmp_path, """
recipe = "cyclegan"
[base]
dataset = "shapes"
num_images = 4
num_samples = 3
batch_size = 2
g_filters = 4
d_filters = 4
g_blocks = 1
pool_size = 0
steps = 3
no_export = true
[axes]
cycle_loss = ["l1", "ssim"]
""")
    plan = experiment.read_plan(path)
    lines = []
    rows = experiment.run_experiment(experiment.check_fid(plan, lines.append), lines.append)
    assert [r["cell"] for r in rows] == ["cycle_loss=l1", "cycle_loss=ssim"]
    assert all(np.isfinite(float(r["wall_s"])) for r in read_csv(plan.out / "results.csv"))
    sheet = np.asarray(Image.open(plan.out / "sheet.png"))
    # X, G(X) per cell, Y, F(Y) per cell: 6 rows of 64 px tiles.
    assert sheet.shape[0] >= 6 * 64
