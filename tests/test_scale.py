"""Mixed precision and tf.distribute: same results on one device or many."""

import json
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT, script_env
from kerasgan import scale
from kerasgan.data.pipeline import make_dataset
from kerasgan.data.shapes import make_shapes
from kerasgan.errors import UserError
from kerasgan.nets.dcgan import build_discriminator, build_generator
from kerasgan.trainers.gan import GANTrainer

SCRIPTS = ROOT / "tests" / "scripts"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("loss", ["lsgan", "wgan-gp"])
def test_mirrored_step_on_two_devices_equals_one_device_step(loss, tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPTS / "mirrored_step.py"), loss,
                             str(tmp_path / "mirrored.weights.h5")],
                            capture_output=True, text=True, timeout=600, env=script_env())
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2 and report["default_is_none"]
    assert report["moved"] > 1e-3  # the steps really changed the weights...
    assert report["max_diff"] < 1e-5  # ...identically on one device and on two
    assert report["restore_diff"] == 0.0  # and the mirrored checkpoint restores on one device


def test_two_multiworker_processes_end_with_identical_weights(tmp_path):
    ports = [str(free_port()), str(free_port())]
    outputs = [tmp_path / f"worker{i}.npz" for i in range(2)]
    workers = [subprocess.Popen([sys.executable, str(SCRIPTS / "multiworker.py"), str(i), *ports, str(outputs[i])],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=script_env())
               for i in range(2)]
    try:
        errors = [w.communicate(timeout=600)[1] for w in workers]
    finally:
        for w in workers:
            w.kill()
    assert all(w.returncode == 0 for w in workers), errors[0][-3000:] + errors[1][-3000:]
    first, second = np.load(outputs[0]), np.load(outputs[1])
    assert int(first["replicas"]) == 2 and int(first["step"]) == int(second["step"]) == 3
    for key in first.files:
        np.testing.assert_array_equal(first[key], second[key])


def test_bfloat16_step_gives_finite_losses_and_float32_outputs():
    with scale.precision("mixed_bfloat16"):
        generator = build_generator(64, noise_dim=8, width=8)
        discriminator = build_discriminator(64, width=8)
    trainer = GANTrainer(generator, discriminator, seed=0)
    trainer.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5))
    assert generator.layers[1].compute_dtype == "bfloat16"
    images, _ = make_shapes(16, 64)
    logs = trainer.fit(make_dataset(images, 64, 8), steps_per_epoch=2, epochs=1, verbose=0).history
    assert all(np.isfinite(v).all() for v in logs.values())
    assert generator(np.zeros((1, 8), np.float32)).dtype == "float32"
    assert discriminator(np.zeros((1, 64, 64, 3), np.float32)).dtype == "float32"
    assert trainer.generator.weights[0].dtype == "float32"  # master weights stay float32


def test_fit_leaves_the_processes_random_generators_and_dtype_policy_as_they_were(tmp_path):
    """A user's own draws continue as if fit had not run, and their own models are built in the
    policy they chose, after a bfloat16 run."""
    import random

    from kerasgan import GAN

    def draws():
        return random.random(), float(np.random.rand()), float(tf.random.uniform([]))

    def seed_all():
        random.seed(7)
        np.random.seed(7)
        tf.random.set_seed(7)

    seed_all()
    expected = draws()
    seed_all()
    GAN(width=8, noise_dim=16, num_images=32, batch_size=8, steps=2, precision="mixed_bfloat16", no_export=True,
        verbose=0, runs_dir=str(tmp_path)).fit()
    assert keras.mixed_precision.global_policy().name == "float32"
    assert draws() == expected


def test_float16_wraps_both_optimizers_in_loss_scaling():
    wrapped = scale.wrap_optimizer(keras.optimizers.Adam(), "mixed_float16")
    assert isinstance(wrapped, keras.optimizers.LossScaleOptimizer)
    plain = keras.optimizers.Adam()
    assert scale.wrap_optimizer(plain, "mixed_bfloat16") is plain


def test_strategy_errors_and_xla_fallback(monkeypatch, caplog):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(UserError, match="TF_CONFIG"):
        scale.make_strategy("multiworker")
    assert scale.make_strategy("none").num_replicas_in_sync == 1

    class TwoReplicas:
        num_replicas_in_sync = 2

    assert scale.use_xla(TwoReplicas(), True) is False
    assert "XLA does not compile" in caplog.text
    assert scale.use_xla(scale.make_strategy("none"), True) is True


@pytest.mark.parametrize("gpus, argv, compiled", [
    ([], [], False),            # auto on a CPU: graph mode, faster there
    (["gpu"], [], True),        # auto on a GPU: XLA
    ([], ["--xla", "on"], True),
    (["gpu"], ["--no-xla"], False),
])
def test_xla_mode_from_the_command_line(monkeypatch, gpus, argv, compiled):
    import tensorflow as tf

    from kerasgan.commands import train_gan as train_dcgan

    args = train_dcgan.config_from_flags(argv)
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: gpus if kind == "GPU" else [])
    assert scale.xla_wanted(args.xla) is compiled


@pytest.mark.parametrize("script", ["train_dcgan", "train_cyclegan"])
def test_float16_steps_with_loss_scaling_reach_every_weight(script, tiny_args, tmp_path):
    """float16 training through the CLI: every weight gets a gradient (the loss scale is on
    the tape), or its optimizer skipped an overflowing step and lowered the scale."""
    import importlib

    module = importlib.import_module({"train_dcgan": "kerasgan.commands.train_gan",
                                      "train_cyclegan": "kerasgan.commands.train_cyclegan"}[script])
    if script == "train_dcgan":
        argv = tiny_args + ["--image-size", "32", "--loss", "bce"]
    else:
        argv = ["--image-size", "64", "--g-filters", "4", "--d-filters", "4", "--g-blocks", "1",
                "--batch-size", "2", "--num-images", "4", "--verbose", "0",
                "--runs-dir", str(tmp_path / "runs"), "--exports-dir", str(tmp_path / "exports")]
    built = {}
    original = scale.build_trainer

    def keep(args, build, make_optimizers):
        trainer, strategy = original(args, build, make_optimizers)
        built["trainer"] = trainer
        built["before"] = {id(w): w.numpy().copy() for w in trainer.trainable_weights}
        return trainer, strategy

    scale.build_trainer = keep
    try:
        module.main(argv + ["--precision", "mixed_float16", "--steps", "3", "--no-export"])
    finally:
        scale.build_trainer = original
    trainer = built["trainer"]
    for optimizer, weights in ((trainer.g_optimizer, trainer.generator_weights),
                               (trainer.d_optimizer, trainer.discriminator_weights)):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        assert all(np.isfinite(w.numpy()).all() for w in weights)
        changed = [not np.array_equal(built["before"][id(w)], w.numpy()) for w in weights]
        lowered = float(optimizer.dynamic_scale.numpy()) < optimizer.initial_scale
        assert all(changed) or (lowered and not any(changed))
    assert all(not np.array_equal(built["before"][id(w)], w.numpy()) for w in trainer.discriminator_weights)
