"""Training callbacks: TensorBoard scalars, sample grids, checkpoints, the step limit, GIFs.

They count in trainer steps (`trainer.step`, the generator updates), not Keras epochs, so
a resumed run logs, samples and checkpoints on the same schedule as an uninterrupted one.
"""

import time

import keras
import numpy as np
import tensorflow as tf

from kerasgan.errors import NonFiniteLoss
from kerasgan.images import lerp, make_grid, save_gif, save_png, slerp, to_uint8
from kerasgan.progress import duration, log, progress_bar
from kerasgan.runs import save_checkpoint, trainer_step


class StepCallback(keras.callbacks.Callback):
    """Runs `on_step(step, logs)` every `every` steps and `on_end(step)` after training."""

    def __init__(self, every):
        super().__init__()
        self.every = every

    def on_train_batch_end(self, batch, logs=None):
        step = trainer_step(self.model)
        if self.every and step % self.every == 0:
            self.on_step(step, logs or {})

    def on_train_end(self, logs=None):
        self.on_end(trainer_step(self.model))

    def on_step(self, step, logs):
        pass

    def on_end(self, step):
        pass


def learning_rates(trainer):
    """{"lr_g": ..., "lr_d": ...} for every `*_optimizer` attribute of the trainer."""
    rates = {}
    for name in dir(trainer):
        if name.endswith("_optimizer") and not name.startswith("_"):
            optimizer = getattr(trainer, name, None)
            if isinstance(optimizer, keras.optimizers.Optimizer):
                rates["lr_" + name.removesuffix("_optimizer")] = float(optimizer.learning_rate)
    return rates


class TensorBoardScalars(StepCallback):
    """Writes the step's metrics and each optimizer's learning rate as TensorBoard scalars."""

    def __init__(self, writer, every=10):
        super().__init__(every)
        self.writer = writer

    def on_step(self, step, logs):
        with self.writer.as_default(step=step):
            for name, value in {**logs, **learning_rates(self.model)}.items():
                tf.summary.scalar(name, float(value))
        self.writer.flush()


class SampleGrid(StepCallback):
    """Saves `render()` (a uint8 image) as samples/step_NNNNNNN.png and a TensorBoard image."""

    def __init__(self, render, samples_dir, writer=None, every=200):
        super().__init__(every)
        self.render = render
        self.samples_dir = samples_dir
        self.writer = writer
        self.last_path = None

    def on_step(self, step, logs):
        grid = self.render()
        self.last_path = save_png(grid, self.samples_dir / f"step_{step:07d}.png")
        if self.writer is not None:
            with self.writer.as_default(step=step):
                tf.summary.image("samples", grid[None], max_outputs=1)
            self.writer.flush()

    def on_end(self, step):
        if not (self.last_path and self.last_path.name == f"step_{step:07d}.png"):
            self.on_step(step, {})


class Checkpoint(StepCallback):
    """Saves the whole trainer every `every` steps and when training ends or is stopped."""

    def __init__(self, run, every=500):
        super().__init__(every)
        self.run = run

    def on_step(self, step, logs):
        save_checkpoint(self.model, self.run)

    def on_end(self, step):
        save_checkpoint(self.model, self.run)


class RunProgress(keras.callbacks.Callback):
    """The run's progress in trainer steps over the whole run (Keras' own bar restarts every
    "epoch"): `verbose` 1, a bar with step N of M, the rate, the time left and the last step's
    values; 2, a line every 5% of the run, for logs; 0, nothing."""

    def __init__(self, total_steps, verbose=1):
        super().__init__()
        self.total = total_steps
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        self.first = self.last = trainer_step(self.model)
        self.started = time.perf_counter()
        self.bar = progress_bar(self.total, "train", unit="step", initial=self.first, enabled=self.verbose == 1)
        self.line_every = max(self.total // 20, 1)

    def on_train_batch_end(self, batch, logs=None):
        step = trainer_step(self.model)
        logs = logs or {}
        shown = sorted(logs, key=lambda name: (not name.endswith("loss"), name))  # the losses first
        values = ", ".join(f"{name} {float(logs[name]):.3g}" for name in shown)
        self.bar.set_postfix_str(values, refresh=False)
        self.bar.update(step - self.last)
        self.last = step
        if self.verbose == 2 and (step % self.line_every == 0 or step == self.total):
            elapsed = time.perf_counter() - self.started
            rate = (step - self.first) / elapsed if elapsed > 0 else 0.0
            left = duration((self.total - step) / rate) if rate > 0 else "?"
            log.info(f"step {step}/{self.total} ({step / self.total:.0%}), {rate:.2f} steps/s, {left} left: {values}")

    def on_train_end(self, logs=None):
        self.bar.close()


class StopAtStep(keras.callbacks.Callback):
    """Ends `fit` after exactly `total_steps` trainer steps, whatever the epoch bookkeeping."""

    def __init__(self, total_steps):
        super().__init__()
        self.total_steps = total_steps

    def on_train_batch_end(self, batch, logs=None):
        if trainer_step(self.model) >= self.total_steps:
            self.model.stop_training = True


class StopOnNonFinite(keras.callbacks.Callback):
    """Raises NonFiniteLoss at the first step whose logged values hold a NaN or infinity, or
    after `patience` steps in a row with a loss (a value whose name ends in "loss") above
    `max_loss` in magnitude: a run that has blown up without reaching infinity (losses of 1e13
    from a learning rate of 1e5) would otherwise finish and export noise. 0 turns the bound
    off. GAN losses live within a few tens even early on (WGAN critics' within a few hundred);
    the default 1e6 leaves them ample room.

    Keras has already read the step's logs back as Python floats for the callbacks, so the
    check costs no extra device read. `fit` lists it first, so no later callback (a
    checkpoint, a sample grid, FID) sees the step.
    """

    def __init__(self, max_loss=0.0, patience=10):
        super().__init__()
        self.max_loss = max_loss
        self.patience = patience
        self.above = 0  # steps in a row with a loss above the bound

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        bad = {name: value for name, value in logs.items() if not _finite(value)}
        if bad:
            step = trainer_step(self.model)
            values = ", ".join(f"{name}={value}" for name, value in sorted(bad.items()))
            raise NonFiniteLoss(f"training diverged: {values} at step {step}", step)
        huge = {name: float(value) for name, value in logs.items()
                if name.endswith("loss") and self.max_loss and abs(float(value)) > self.max_loss}
        self.above = self.above + 1 if huge else 0
        if self.above >= self.patience:
            step = trainer_step(self.model)
            values = ", ".join(f"{name}={value:.3g}" for name, value in sorted(huge.items()))
            raise NonFiniteLoss(f"training diverged: {values} at step {step}, losses above --max-loss "
                                f"{self.max_loss:g} for {self.patience} steps in a row", step)


def _finite(value):
    try:
        return bool(np.all(np.isfinite(np.asarray(value, dtype=np.float64))))
    except (TypeError, ValueError):  # not a number: nothing to check
        return True


def generator_grid(generator, noise, columns=None):
    """A render function for SampleGrid: the generator's images for fixed noise."""
    return lambda: make_grid(to_uint8(generator(noise, training=False)), columns)


def interpolation_gif(generator, path, noise_dim, points=4, frames_between=12, columns=4, seed=0,
                      latent="normal"):
    """A GIF walking the latent space through `points` random noise vectors, a grid of
    `columns` independent walks per frame, drawn from the generator's training prior
    (`latent`): normal, walked by slerp (it stays on the Gaussian shell), or uniform(-1, 1)
    (BEGAN), walked in straight lines (they stay in the cube; slerp would leave it)."""
    rng = np.random.default_rng(seed)
    if latent == "normal":
        anchors, mix = rng.standard_normal((points, columns, noise_dim)), slerp
    elif latent == "uniform":
        anchors, mix = rng.uniform(-1.0, 1.0, (points, columns, noise_dim)), lerp
    else:
        raise ValueError(f"unknown latent prior {latent!r}; choose normal or uniform")
    anchors = np.concatenate([anchors, anchors[:1]]).astype(np.float32)  # close the loop
    frames = []
    for a, b in zip(anchors[:-1], anchors[1:]):
        for t in np.linspace(0, 1, frames_between, endpoint=False):
            images = to_uint8(generator(mix(a, b, t).astype(np.float32), training=False))
            frames.append(make_grid(images, columns))
    return save_gif(np.stack(frames), path)
