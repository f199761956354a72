"""Seeded network building that leaves the process's random generators as it found them."""

import contextlib
import random


@contextlib.contextmanager
def seeded(seed):
    """Inside the block, Keras builds layers with initial weights fixed by `seed`.

    Keras draws each unseeded initializer's seed (and its global SeedGenerator's) from Python's
    `random`, so that alone is seeded here, and put back as it was afterwards with the global
    SeedGenerator; NumPy's and TensorFlow's global generators are not touched. So the same
    seed builds the same networks, and a user's own random draws continue undisturbed
    (`keras.utils.set_random_seed` would reseed all three for the whole process).
    """
    from keras.src.backend.common import global_state
    from keras.src.random.seed_generator import GLOBAL_SEED_GENERATOR

    state = random.getstate()
    generator = global_state.get_global_attribute(GLOBAL_SEED_GENERATOR)
    random.seed(seed)
    global_state.set_global_attribute(GLOBAL_SEED_GENERATOR, None)  # made again from the seeded `random`
    try:
        yield
    finally:
        random.setstate(state)
        global_state.set_global_attribute(GLOBAL_SEED_GENERATOR, generator)
