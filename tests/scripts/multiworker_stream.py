"""One worker of a two-worker MultiWorkerMirroredStrategy run on a streamed folder, or the same
run on one device ("single"), for tests/test_scale.py.

    python multiworker_stream.py INDEX|single PORT0 PORT1 FOLDER OUT.npz

Trains a tiny GANTrainer 3 steps of batch 8 on the folder through the recipes' input path
(scale.distribute_stream) and saves its final weights and the indices of the files it decoded."""

import json
import os
import sys
import threading

index, port0, port1, folder, out = sys.argv[1:6]
if index != "single":
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"localhost:{port0}", f"localhost:{port1}"]},
        "task": {"type": "worker", "index": int(index)},
    })

import kerasgan  # noqa: E402,F401
import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasgan.data.pipeline import make_dataset  # noqa: E402
from kerasgan.data.sources import folder_source  # noqa: E402
from kerasgan.nets.dcgan import build_discriminator, build_generator  # noqa: E402
from kerasgan.scale import distribute_stream, make_strategy  # noqa: E402
from kerasgan.trainers.gan import GANTrainer  # noqa: E402

source = folder_source(folder, 16)
decoded, lock = [], threading.Lock()
decode = source.decode


def logged_decode(i):
    with lock:
        decoded.append(i)
    return decode(i)


source.decode = logged_decode
strategy = make_strategy("none" if index == "single" else "multiworker")
with strategy.scope():
    keras.utils.set_random_seed(0)
    trainer = GANTrainer(build_generator(16, noise_dim=8, width=4, norm="none"),
                         build_discriminator(16, width=4, norm="none"), seed=1)
    trainer.compile(keras.optimizers.Adam(1e-2, 0.5), keras.optimizers.Adam(1e-2, 0.5), jit_compile=False)
dataset = distribute_stream(lambda step, shard=None: make_dataset(source, 16, 8, seed=0, start_step=step, shard=shard),
                            0, strategy)
trainer.fit(dataset, steps_per_epoch=3, epochs=1, verbose=0, shuffle=False)
weights = [w.numpy() for w in trainer.generator.weights + trainer.discriminator.weights]
np.savez(out, *weights, decoded=np.asarray(decoded, np.int64), replicas=strategy.num_replicas_in_sync)
