"""One worker of a two-worker MultiWorkerMirroredStrategy run on loopback ports.

    python multiworker.py INDEX PORT0 PORT1 OUT.npz

Trains a tiny GANTrainer a few steps and saves its final weights, so tests/test_scale.py
can check that both workers end with identical weights."""

import json
import os
import sys

index, port0, port1, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
os.environ["TF_CONFIG"] = json.dumps({
    "cluster": {"worker": [f"localhost:{port0}", f"localhost:{port1}"]},
    "task": {"type": "worker", "index": index},
})

import kerasgan  # noqa: E402,F401
import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasgan.data.pipeline import make_dataset  # noqa: E402
from kerasgan.data.shapes import make_shapes  # noqa: E402
from kerasgan.nets.dcgan import build_discriminator, build_generator  # noqa: E402
from kerasgan.scale import make_strategy, shard_by_data  # noqa: E402
from kerasgan.trainers.gan import GANTrainer  # noqa: E402

strategy = make_strategy("multiworker")
with strategy.scope():
    keras.utils.set_random_seed(0)
    trainer = GANTrainer(build_generator(64, noise_dim=8, width=8, norm="none"),
                         build_discriminator(64, width=8, norm="none"), seed=1)
    trainer.compile(keras.optimizers.Adam(1e-3, 0.5), keras.optimizers.Adam(1e-3, 0.5), jit_compile=False)
images, _ = make_shapes(32, 64)
trainer.fit(shard_by_data(make_dataset(images, 64, 8)), steps_per_epoch=3, epochs=1, verbose=0, shuffle=False)
weights = [w.numpy() for w in trainer.generator.weights + trainer.discriminator.weights]
np.savez(out, *weights, step=int(trainer.step.numpy()), replicas=strategy.num_replicas_in_sync)
