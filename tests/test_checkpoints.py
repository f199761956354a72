"""Checkpoint files: one file per checkpoint (weights and facts together), checked before loading."""

import json

import h5py
import numpy as np
import pytest

from kerasgan.config import GANConfig
from kerasgan.errors import UserError
from kerasgan.recipes import gan as gan_recipe
from kerasgan.runs import Run, checkpoint_info, checkpoint_step, restore_checkpoint, save_checkpoint, saved_variables


def trainer(label_names=None, **options):
    config = GANConfig(**{"width": 8, "noise_dim": 16, "image_size": 32, "ema": 0.999, **options}).resolved()
    built = gan_recipe.build_trainer(config, label_names)
    built.compile(*gan_recipe.build_optimizers(config, 10))
    return built


def weights_of(model):
    return [v.numpy().copy() for v in saved_variables(model)]


@pytest.fixture
def run(tmp_path):
    run = Run(tmp_path / "run")
    run.checkpoints.mkdir(parents=True)
    return run


def test_the_step_and_scores_live_inside_the_weights_file(run):
    model = trainer()
    model.g_optimizer.iterations.assign(7)
    path = save_checkpoint(model, run, tag="best", fid=12.5)
    assert sorted(p.name for p in run.checkpoints.iterdir()) == ["best.weights.h5"]  # no separate .json
    assert checkpoint_info(path) == {"step": 7, "fid": 12.5}
    assert checkpoint_step(run, "best") == 7
    assert checkpoint_info(run.checkpoint_path()) == {}  # no latest checkpoint yet


def test_a_checkpoint_of_kerasgan_0_2_keeps_its_facts_in_the_json_beside_it(run):
    path = save_checkpoint(trainer(), run)
    with h5py.File(path, "a") as handle:
        del handle.attrs["kerasgan"]
    path.with_suffix("").with_suffix(".json").write_text(json.dumps({"step": 3}))
    assert checkpoint_step(run) == 3


@pytest.mark.parametrize("options", [{"model": "cdcgan"}, {"spectral_norm": True, "minibatch_std": True}])
def test_saved_variables_are_exactly_what_save_weights_writes(run, options):
    """restore_checkpoint compares a file with this list instead of writing a probe copy."""
    from kerasgan.runs import _stored_shapes

    model = trainer({"shape": ["circle", "square"], "color": ["red", "green", "blue"]}, **options)
    path = save_checkpoint(model, run)
    assert _stored_shapes(path) == sorted(tuple(v.shape) for v in saved_variables(model))


def test_a_file_that_does_not_fit_is_refused_before_anything_is_loaded(run):
    save_checkpoint(trainer(), run)  # G and EMA G fit the other trainer; D does not (one more channel)
    other = trainer(minibatch_std=True)
    before = weights_of(other)
    with pytest.raises(UserError, match="does not fit this model"):
        restore_checkpoint(other, run)
    for old, now in zip(before, weights_of(other)):
        np.testing.assert_array_equal(old, now)


def test_restoring_writes_no_copy_of_the_checkpoint(run, monkeypatch):
    saved = trainer()
    saved.g_optimizer.iterations.assign(5)
    save_checkpoint(saved, run)
    fresh = trainer()
    monkeypatch.setattr(fresh, "save_weights", lambda *a, **k: pytest.fail("restore wrote a weights file"))
    assert restore_checkpoint(fresh, run) == 5
    for a, b in zip(weights_of(saved), weights_of(fresh)):
        np.testing.assert_array_equal(a, b)


def test_a_damaged_latest_checkpoint_points_to_the_best_one_when_there_is_one(run):
    model = trainer()
    save_checkpoint(model, run)
    save_checkpoint(model, run, tag="best", fid=1.0)
    run.checkpoint_path().write_bytes(b"")
    with pytest.raises(UserError, match="damaged.*kerasgan export --run .* --checkpoint best"):
        restore_checkpoint(model, run)
    run.checkpoint_path("best").unlink()
    with pytest.raises(UserError, match="damaged.*start a new run with --name") as error:
        restore_checkpoint(model, run)
    assert "--checkpoint" not in str(error.value)
