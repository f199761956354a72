"""Shared test setup: import kerasgan first (it sets TensorFlow's environment).

The repository root is on sys.path through pytest.ini's `pythonpath = .`, or kerasgan is
installed (`pip install -e .`, the README's test command).
"""

import os
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
