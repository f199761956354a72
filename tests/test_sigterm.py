"""SIGTERM (docker stop, schedulers) saves a checkpoint like Ctrl-C and exits 143; --resume continues."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kerasgan.runs import checkpoint_info, checkpoint_step
from kerasgan.commands import train_gan as train_dcgan
from kerasgan import training

ROOT = Path(__file__).resolve().parents[1]


def test_sigterm_saves_a_checkpoint_and_resume_continues(tiny_args, tmp_path):
    runs = tmp_path / "runs"
    samples = runs / "dcgan_shapes_32" / "samples"
    argv = tiny_args + ["--steps", "100000", "--sample-every", "1", "--checkpoint-every", "100000"]
    process = subprocess.Popen([sys.executable, str(ROOT / "train_dcgan.py"), *argv], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (samples.is_dir() and len(list(samples.glob("step_*.png"))) >= 2):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no training step within 240 s"
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 143, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("interrupted")]
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    checkpoint = runs / "dcgan_shapes_32" / "checkpoints" / "latest.weights.h5"
    assert checkpoint.exists()
    assert f"saved {checkpoint}; add --resume to continue" in lines[0]
    step = checkpoint_info(checkpoint)["step"]
    assert step >= 2 and f"at step {step}" in lines[0]

    run = train_dcgan.main(tiny_args + ["--steps", str(step + 1), "--resume", "--no-export"])
    assert checkpoint_step(run) == step + 1


def test_the_previous_sigterm_handler_is_restored_after_fit():
    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        with training._sigterm_as_interrupt():
            assert signal.getsignal(signal.SIGTERM) is not mine
            with pytest.raises(training.Terminated):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the handler raises in the main thread before this ends
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_fit_outside_the_main_thread_leaves_signals_alone():
    seen = []

    def worker():
        with training._sigterm_as_interrupt():
            seen.append(signal.getsignal(signal.SIGTERM))

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [before]
