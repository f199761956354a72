"""Shared test setup: import kerasgan first (it sets TensorFlow's environment).

The repository root is on sys.path through pytest.ini's `pythonpath = .`, or kerasgan is
installed (`pip install -e .`, the README's test command).
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import kerasgan  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


def script_env(**extra):
    """The environment for a Python subprocess that imports kerasgan from this checkout."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}

SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_data(relative):
    """A folder under ../shared/data: skipped when absent, but a failure in CI (CI=true)."""
    path = SHARED_DATA / relative
    if not path.is_dir():
        message = f"{path} not found: the real-photo data lives beside the checkout in ../shared/data"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def tiny_args(tmp_path):
    """Flags for a tiny, fast train_dcgan run writing into tmp_path."""
    return [
        "--num-images", "32", "--batch-size", "8", "--width", "8", "--noise-dim", "16",
        "--runs-dir", str(tmp_path / "runs"), "--exports-dir", str(tmp_path / "exports"),
        "--verbose", "0",
    ]


@pytest.fixture(scope="session")
def shapes_dot_judge():
    """(label judge, its data): the judge of shapes-dot at 32x32 (seed 0, 2048 images), fitted
    once per session because two modules use it and a fit takes 15-45 s."""
    from kerasgan.data.sources import load_image_set
    from kerasgan.metrics.label_accuracy import fit_label_judge

    data = load_image_set("shapes-dot", None, 32, 0, 2048)
    return fit_label_judge(data.images, data.labels, data.label_names), data


# -- scripts started early -------------------------------------------------------------------
class EarlyScript:
    """A test script run in its own process (logical devices must be set before TensorFlow
    initialises), started as soon as collection shows that a selected test needs it. Such a
    script spends a minute or more tracing on one core, so it overlaps the rest of the suite on
    CI's second core instead of running after it. `result()` waits for it (starting it first
    if the session never did) and returns a subprocess.CompletedProcess."""

    def __init__(self, test_file, script, *args):
        self.test_file = Path(test_file).resolve()
        self.argv = [sys.executable, str(script), *map(str, args)]
        self.process = None

    def start(self):
        if self.process is None:
            # Files, not pipes: nobody reads a pipe while the tests run, and TensorFlow's log
            # lines would fill it and stall the script.
            self.output = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
            self.process = subprocess.Popen(self.argv, stdout=self.output[0], stderr=self.output[1], text=True,
                                            env=script_env())

    def result(self, timeout):
        self.start()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        stdout, stderr = (f.seek(0) or f.read() for f in self.output)
        return subprocess.CompletedProcess(self.argv, self.process.returncode, stdout, stderr)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


EARLY_SCRIPTS = []


def early_script(test_file, script, *args):
    """An EarlyScript for the test module `test_file` (its __file__)."""
    EARLY_SCRIPTS.append(EarlyScript(test_file, script, *args))
    return EARLY_SCRIPTS[-1]


def pytest_collection_finish(session):
    if session.config.option.collectonly:
        return
    selected = {Path(item.path).resolve() for item in session.items}
    for early in EARLY_SCRIPTS:
        if early.test_file in selected:
            early.start()


def pytest_sessionfinish(session):
    for early in EARLY_SCRIPTS:
        early.stop()
