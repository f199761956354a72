"""A non-finite loss or weight stops training: the last finite checkpoint is kept, nothing is exported."""

import re

import h5py
import keras
import numpy as np
import pytest

from kerasgan.commands import train_gan as train_dcgan
from kerasgan import callbacks as cb
from kerasgan.commands import main as kerasgan_main
from kerasgan.errors import NonFiniteLoss, UserError
from kerasgan.runs import Run, checkpoint_step, save_checkpoint, trainer_step


def h5_arrays(path):
    arrays = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: arrays.append(obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return arrays


def run_cli(argv, capsys):
    """(exit status, the stderr lines starting with 'error:', all of stderr) of train_dcgan."""
    try:
        kerasgan_main.run_main(train_dcgan.main, argv)
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.startswith("error:")], err


def test_the_issue_run_with_lr_1e5_stops_with_one_line_and_exports_nothing(tiny_args, tmp_path, capsys):
    # LSGAN, the loss of the issue's run (BCE's log-sigmoid saturates instead of overflowing).
    code, errors, err = run_cli(tiny_args + ["--lr", "1e5", "--loss", "lsgan", "--steps", "30",
                                             "--checkpoint-every", "2", "--sample-every", "100"], capsys)
    assert code == 3
    assert len(errors) == 1 and "Traceback" not in err, err
    assert int(re.search(r"at step (\d+)", errors[0]).group(1)) < 30
    assert "nothing exported" in errors[0]
    assert not (tmp_path / "exports").exists()
    checkpoint = Run(tmp_path / "runs" / "dcgan_shapes_32").checkpoint_path()
    assert not checkpoint.exists() or all(np.isfinite(a).all() for a in float_arrays(checkpoint))


def test_a_run_diverging_after_a_checkpoint_keeps_that_checkpoint(tiny_args, tmp_path, capsys, monkeypatch):
    # The generator's weights turn NaN before step 3 (as after a huge update), after step 2's checkpoint.
    class PoisonBeforeStep3(cb.StopAtStep):
        def on_train_batch_begin(self, batch, logs=None):
            if trainer_step(self.model) == 2:
                kernel = self.model.generator.trainable_weights[0]
                kernel.assign(np.full(kernel.shape, np.nan, np.float32))

    monkeypatch.setattr(cb, "StopAtStep", PoisonBeforeStep3)
    code, errors, err = run_cli(tiny_args + ["--steps", "30", "--checkpoint-every", "2", "--sample-every", "100"],
                                capsys)
    assert code == 3
    assert len(errors) == 1 and "Traceback" not in err, err
    # The loss check fires at step 3 if the NaN reaches the losses; a ReLU may squash it
    # (max(NaN, 0) is 0 on oneDNN), then the weight check before step 4's checkpoint does.
    assert int(re.search(r"at step (\d+)", errors[0]).group(1)) in (3, 4), errors[0]
    run = Run(tmp_path / "runs" / "dcgan_shapes_32")
    checkpoint = run.checkpoint_path()
    assert f"kept the last finite checkpoint {checkpoint} (step 2)" in errors[0]
    assert checkpoint_step(run) == 2
    arrays = float_arrays(checkpoint)
    assert arrays and all(np.isfinite(a).all() for a in arrays)
    assert not (tmp_path / "exports").exists()


def float_arrays(path):
    return [a for a in h5_arrays(path) if np.issubdtype(np.asarray(a).dtype, np.floating)]


class FakeModel:
    def __init__(self, step):
        self.step = step
        self.stop_training = False


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_the_callback_raises_on_a_non_finite_log_value_naming_the_step(value):
    callback = cb.StopOnNonFinite()
    callback.set_model(FakeModel(7))
    callback.on_train_batch_end(0, {"d_loss": 0.5, "g_loss": 1.0})
    with pytest.raises(NonFiniteLoss, match=r"g_loss.* at step 7") as error:
        callback.on_train_batch_end(1, {"d_loss": 0.5, "g_loss": value})
    assert isinstance(error.value, UserError) and error.value.step == 7


def test_save_checkpoint_refuses_non_finite_weights_and_keeps_the_old_file(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.step = 4
    run = Run(tmp_path)
    run.checkpoints.mkdir()
    path = save_checkpoint(model, run)
    before = path.read_bytes()
    kernel = model.layers[0].kernel
    kernel.assign(np.full(kernel.shape, np.nan, np.float32))
    model.step = 5
    with pytest.raises(NonFiniteLoss, match="step 5"):
        save_checkpoint(model, run)
    assert path.read_bytes() == before
    assert checkpoint_step(run) == 4
    assert not list(run.checkpoints.glob(".*tmp*"))


class InterruptedTrainer(keras.Sequential):
    """A model whose `fit` is interrupted (Ctrl-C) after its weights were poisoned (or not)."""

    poison = False

    def fit(self, *args, **kwargs):
        self.step = 9
        if self.poison:
            kernel = self.layers[0].kernel
            kernel.assign(np.full(kernel.shape, np.nan, np.float32))
        raise KeyboardInterrupt


@pytest.mark.parametrize("poison", [False, True])
def test_ctrl_c_saves_finite_weights_but_never_non_finite_ones(tmp_path, caplog, poison):
    from kerasgan.training import fit

    trainer = InterruptedTrainer([keras.Input((3,)), keras.layers.Dense(2)])
    trainer.step = 4
    trainer.poison = poison
    run = Run(tmp_path)
    run.checkpoints.mkdir()
    good = save_checkpoint(trainer, run).read_bytes()
    if poison:
        with pytest.raises(NonFiniteLoss, match=r"at step 9: .*kept the last finite checkpoint .* \(step 4\)"):
            fit(trainer, lambda step: None, run, 20, 4, [])
        assert run.checkpoint_path().read_bytes() == good
        assert checkpoint_step(run) == 4
    else:
        with pytest.raises(SystemExit) as exit_info, caplog.at_level("WARNING", logger="kerasgan"):
            fit(trainer, lambda step: None, run, 20, 4, [])
        assert exit_info.value.code == 130
        assert checkpoint_step(run) == 9
        assert "interrupted at step 9; saved" in caplog.text


def test_losses_that_explode_without_reaching_nan_stop_the_run_too(tiny_args, tmp_path, capsys):
    """BCE at --lr 1e5 (the default loss on shapes): losses of 1e8 and more, never NaN. Without a
    bound this run finished, exit status 0, and exported a generator of noise."""
    code, errors, err = run_cli(tiny_args + ["--lr", "1e5", "--steps", "30", "--sample-every", "100"], capsys)
    assert code == 3, err
    assert len(errors) == 1 and "Traceback" not in err, err
    assert re.search(r"at step 1\d, losses above --max-loss 1e\+06 for 10 steps in a row", errors[0]), errors[0]
    assert "nothing exported" in errors[0] and not (tmp_path / "exports").exists()
    code, errors, err = run_cli(tiny_args + ["--lr", "1e5", "--steps", "12", "--max-loss", "0", "--name", "off",
                                             "--no-export"], capsys)
    assert code == 0 and not errors, err  # the bound turned off: the run goes on
