"""A few real training steps through the CLI entry point, in process."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan.commands import train_gan as train_dcgan
from kerasgan.recipes import gan as gan_recipe
from conftest import shared_data
from kerasgan.data.pipeline import make_dataset
from kerasgan.data.shapes import make_shapes
from kerasgan.runs import checkpoint_info, checkpoint_step
from kerasgan.errors import UserError
from kerasgan.nets.dcgan import build_discriminator, build_generator
from kerasgan.trainers.gan import GANTrainer


def read_events(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    events.Reload()
    return events




def test_short_run_outputs(tiny_args, tmp_path):
    run = train_dcgan.main(tiny_args + ["--steps", "4", "--sample-every", "2", "--log-every", "1",
                                        "--diffaug", "color,translation,cutout", "--data-preprocess", "deluxe"])
    assert sorted(p.name for p in run.samples.glob("*.png")) == ["step_0000002.png", "step_0000004.png"]
    assert checkpoint_step(run) == 4
    events = read_events(run.logs)
    tags = events.Tags()["tensors"]
    assert {"d_loss", "g_loss", "d_real", "d_fake", "lr_g", "lr_d", "samples"} <= set(tags)
    d_losses = [tf.make_ndarray(e.tensor_proto) for e in events.Tensors("d_loss")]
    assert len(d_losses) == 4 and np.isfinite(d_losses).all()
    export = tmp_path / "exports" / "dcgan_shapes_32" / "1"
    assert (export / "saved_model.pb").exists()
    assert (tmp_path / "exports" / "models.config").read_text().count("config {") == 1


def test_resume_reaches_the_same_weights_as_an_uninterrupted_run(tiny_args, tmp_path):
    common = tiny_args + ["--no-export", "--data-preprocess", "deluxe", "--diffaug", "translation", "--ema", "0.999"]
    straight = train_dcgan.main(common + ["--steps", "6", "--name", "straight"])
    train_dcgan.main(common + ["--steps", "3", "--name", "split"])
    resumed = train_dcgan.main(common + ["--steps", "6", "--name", "split", "--resume"])
    straight_ckpt = checkpoint_info(straight.checkpoint_path())
    resumed_ckpt = checkpoint_info(resumed.checkpoint_path())
    assert straight_ckpt["step"] == resumed_ckpt["step"] == 6

    def generator_weights(run):
        args = train_dcgan.config_from_flags(common)
        trainer = gan_recipe.build_trainer(args)
        trainer.compile(*gan_recipe.build_optimizers(args, 6))
        trainer.load_weights(run.checkpoint_path())
        assert trainer.ema_generator is not None  # --ema 0.999: the average resumes too
        nets = (trainer.generator, trainer.discriminator, trainer.ema_generator)
        return [w.numpy() for net in nets for w in net.weights]

    for x, y in zip(generator_weights(straight), generator_weights(resumed)):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


def scalar_curves(log_dir, tags):
    """{tag: {step: value}} from a run's TensorBoard events (a step logged twice, before a kill
    and after the resume, keeps its later value)."""
    events = read_events(log_dir)
    return {tag: {e.step: float(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)} for tag in tags}


def test_a_resumed_runs_tensorboard_curves_are_the_uninterrupted_runs(tiny_args):
    """Each logged point is that step's own value: the same whether or not the run was resumed
    in between (a running mean since Keras' epoch start would restart at the resume)."""
    common = tiny_args + ["--no-export", "--log-every", "1"]
    straight = train_dcgan.main(common + ["--steps", "7", "--name", "straight"])
    train_dcgan.main(common + ["--steps", "3", "--name", "split"])
    resumed = train_dcgan.main(common + ["--steps", "7", "--name", "split", "--resume"])
    tags = ("d_loss", "g_loss", "d_real", "d_fake")
    expected, got = scalar_curves(straight.logs, tags), scalar_curves(resumed.logs, tags)
    for tag in tags:
        assert sorted(got[tag]) == list(range(1, 8))
        np.testing.assert_allclose([got[tag][s] for s in range(1, 8)], [expected[tag][s] for s in range(1, 8)],
                                   rtol=1e-4, atol=1e-5)


def test_an_existing_run_is_never_overwritten(tiny_args):
    train_dcgan.main(tiny_args + ["--steps", "1", "--no-export"])
    with pytest.raises(UserError, match="--resume"):
        train_dcgan.main(tiny_args + ["--steps", "1", "--no-export"])


def saved_run_files(tmp_path):
    """Checkpoints, samples and config; a new TensorBoard events file is harmless."""
    return {p: p.read_bytes() for p in (tmp_path / "runs").rglob("*")
            if p.is_file() and "logs" not in p.parts and p.name != ".lock"}


@pytest.mark.parametrize("changed", [["--width", "16"], ["--norm", "none"], ["--batch-size", "4"],
                                     ["--loss", "hinge"], ["--lr", "1e-3"]])
def test_resuming_with_options_that_change_the_run_is_one_line_naming_them(tiny_args, changed, tmp_path):
    train_dcgan.main(tiny_args + ["--steps", "1", "--no-export"])
    before = saved_run_files(tmp_path)
    with pytest.raises(UserError, match=f"differ from its config.json: {changed[0]} ") as error:
        train_dcgan.main(tiny_args + changed + ["--steps", "2", "--no-export", "--resume"])
    assert "\n" not in str(error.value)
    assert saved_run_files(tmp_path) == before  # the run's work is untouched


def test_resume_takes_the_recorded_options_and_records_the_new_length(tiny_args, tmp_path):
    run = train_dcgan.main(tiny_args + ["--steps", "1", "--no-export", "--batch-size", "4", "--lr", "1e-3"])
    resumed = train_dcgan.main(["--runs-dir", str(tmp_path / "runs"), "--resume", "--steps", "2",
                                "--sample-every", "7", "--verbose", "0"])
    assert resumed.root == run.root
    config = json.loads(run.config_path.read_text())
    assert (config["steps"], config["sample_every"], config["batch_size"], config["lr"]) == (2, 7, 4, 1e-3)
    assert checkpoint_step(run) == 2


def test_a_checkpoint_that_does_not_fit_its_config_is_one_clear_error(tiny_args, tmp_path):
    """A config.json edited by hand (or an older kerasgan's checkpoint) against the network it builds."""
    run = train_dcgan.main(tiny_args + ["--steps", "1", "--no-export"])
    config = json.loads(run.config_path.read_text())
    run.config_path.write_text(json.dumps({**config, "width": 16}))
    before = saved_run_files(tmp_path)
    with pytest.raises(UserError, match="does not fit this model") as error:
        train_dcgan.main(["--runs-dir", str(tmp_path / "runs"), "--resume", "--steps", "2"])
    assert "\n" not in str(error.value)
    assert saved_run_files(tmp_path) == before


def test_a_damaged_checkpoint_is_one_line_naming_the_file(tiny_args, tmp_path):
    run = train_dcgan.main(tiny_args + ["--steps", "1", "--no-export"])
    path = run.checkpoints / "latest.weights.h5"
    path.write_bytes(path.read_bytes()[:1000])  # truncated, as a full disk leaves it
    with pytest.raises(UserError, match=f"{path} is damaged.*start a new run with --name") as error:
        train_dcgan.main(tiny_args + ["--steps", "2", "--no-export", "--resume"])
    assert "\n" not in str(error.value)
    path.write_bytes(b"")
    with pytest.raises(UserError, match="is damaged"):
        train_dcgan.main(tiny_args + ["--steps", "2", "--no-export", "--resume"])


@pytest.mark.parametrize("resume", [[], ["--resume"]])
def test_a_run_folder_without_a_checkpoint_is_not_reused(tiny_args, tmp_path, resume):
    """With or without --resume, one message with what to do (not "run without --resume" one
    way and "delete that folder" the other)."""
    stale = tmp_path / "runs" / "dcgan_shapes_32" / "samples"
    stale.mkdir(parents=True)
    (stale / "step_0000200.png").write_bytes(b"old")
    config = train_dcgan.config_from_flags(tiny_args).replace(name="dcgan_shapes_32")
    (stale.parent / "config.json").write_text(json.dumps(config.to_dict()))
    with pytest.raises(UserError, match="holds a run with no checkpoint to resume .*delete that folder to start it "
                                        "again, or start another run with --name NEW"):
        train_dcgan.main(tiny_args + ["--steps", "1", "--no-export", *resume])
    assert (stale / "step_0000200.png").read_bytes() == b"old"


def test_a_second_process_on_the_same_run_is_refused(tiny_args, tmp_path):
    from kerasgan.runs import Run

    holder = Run(tmp_path / "runs" / "dcgan_shapes_32").lock()  # as another process would hold it
    try:
        import subprocess
        import sys

        from conftest import ROOT
        result = subprocess.run([sys.executable, str(ROOT / "train_dcgan.py"), *tiny_args, "--steps", "1"],
                                capture_output=True, text=True, timeout=300)
    finally:
        holder.unlock()
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'runs' / 'dcgan_shapes_32'} is in use by another process (pid {os.getpid()}): wait "
        "for it to finish, or start another run with --name NEW"]
    assert not (tmp_path / "runs" / "dcgan_shapes_32" / "config.json").exists()
    train_dcgan.main(tiny_args + ["--steps", "1", "--no-export"])  # free again once the holder let go


def tiny_trainer(**kwargs):
    generator = build_generator(64, noise_dim=8, width=8)
    discriminator = build_discriminator(64, width=8, norm="none", spectral_norm=True)
    trainer = GANTrainer(generator, discriminator, seed=0, **kwargs)
    trainer.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5))
    return trainer


@pytest.mark.parametrize("n_critic", [1, 3])
def test_generator_runs_forward_once_per_discriminator_update(n_critic):
    trainer = tiny_trainer(loss="wgan-gp", n_critic=n_critic)
    calls = []
    original = trainer.generate
    trainer.generate = lambda noise, codes=None: calls.append(1) or original(noise, codes)
    trainer.train_step(tf.constant(make_shapes(4, 64)[0] / 127.5 - 1.0, tf.float32))
    assert len(calls) == n_critic  # the G update reuses the last D update's fakes


def test_fused_step_equals_a_d_update_then_a_g_update_on_the_same_noise():
    """One G forward for both updates gives the G update that recomputing G would give."""
    def pair():
        keras.utils.set_random_seed(3)
        generator = build_generator(64, noise_dim=8, width=8)
        discriminator = build_discriminator(64, width=8)
        trainer = GANTrainer(generator, discriminator, loss="bce", seed=0)
        trainer.compile(keras.optimizers.Adam(1e-2, 0.5), keras.optimizers.Adam(1e-2, 0.5), jit_compile=False)
        return trainer

    real = tf.constant(make_shapes(4, 64)[0] / 127.5 - 1.0, tf.float32)
    fused, reference = pair(), pair()
    before = [w.numpy() for w in fused.generator.trainable_weights]
    fused.train_step(real)
    assert not all(np.allclose(b, w.numpy()) for b, w in zip(before, fused.generator.trainable_weights))

    noise = reference.sample_noise(4)
    reference.d_update(real, None, reference.generate(noise), None)
    with tf.GradientTape() as tape:
        loss = reference.generator_loss(reference.generate(noise), None)
    reference.update_generator(tape, loss)

    weights = lambda t: t.generator.trainable_weights + t.discriminator.trainable_weights  # noqa: E731
    for got, want in zip(weights(fused), weights(reference)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)


def test_spectral_norm_power_iteration_runs_during_fit_under_xla():
    trainer = tiny_trainer(loss="hinge")
    assert trainer.jit_compile
    wrapper = next(l for l in trainer.discriminator.layers if isinstance(l, keras.layers.SpectralNormalization))
    before = wrapper.vector_u.numpy().copy()
    images, _ = make_shapes(16, 64)
    trainer.fit(make_dataset(images, 64, 8), steps_per_epoch=2, epochs=1, verbose=0)
    assert trainer.jit_compile
    assert not np.allclose(before, wrapper.vector_u.numpy())
    assert int(trainer.step) == 2


def test_wgan_clipping_bounds_every_critic_weight():
    trainer = tiny_trainer(loss="wgan", clip_value=0.01)
    images, _ = make_shapes(8, 64)
    logs = trainer.fit(make_dataset(images, 64, 8), steps_per_epoch=1, epochs=1, verbose=0).history
    assert np.isfinite(logs["d_loss"]).all()
    for weight in trainer.discriminator.trainable_weights:
        assert np.abs(weight.numpy()).max() <= 0.01 + 1e-7


def test_real_grumpy_cats_train(tiny_args):
    folder = shared_data("grumpifyCat/cat/grumpifyBprocessed")
    run = train_dcgan.main(tiny_args[2:] + ["--data-dir", str(folder), "--steps", "3", "--no-export",
                                            "--data_preprocess", "deluxe", "--use_diffaug"])
    config = json.loads(run.config_path.read_text())
    assert config["images"] == 204
    assert checkpoint_step(run) == 3


def test_progress_is_counted_over_the_whole_run_and_continues_after_a_resume(tiny_args, capsys, caplog):
    """--verbose 1: one bar from step 0 (or the resumed step) to the run's last, with the losses;
    --verbose 2: a line every 5% of the run; never Keras' per-epoch bar ("Epoch 3/10")."""
    common = [a for a in tiny_args if a not in ("--verbose", "0")] + ["--no-export", "--checkpoint-every", "4"]
    train_dcgan.main(common + ["--steps", "4"])
    captured = capsys.readouterr()
    assert "4/4" in captured.err and "d_loss" in captured.err and "Epoch" not in captured.out + captured.err
    with caplog.at_level("INFO", logger="kerasgan"):
        train_dcgan.main(common + ["--steps", "40", "--resume", "--verbose", "2"])
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
    assert len(lines) == 18 and lines[0].startswith("step 6/40 (15%), ") and lines[-1].startswith("step 40/40 (100%)")
    assert "left: d_loss " in lines[0] and "g_loss" in lines[0]
