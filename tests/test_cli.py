"""What a user sees on bad input: one line on stderr, exit status 2, no traceback."""

import subprocess
import sys
import warnings

import numpy as np
from PIL import Image

from kerasgan.commands import train_gan as train_dcgan
from conftest import ROOT


def run_cli(*args):
    result = subprocess.run([sys.executable, str(ROOT / "train_dcgan.py"), *args],
                            capture_output=True, text=True, timeout=300)
    return result.returncode, result.stderr.strip().splitlines()


def test_missing_folder_is_one_line(tmp_path):
    code, lines = run_cli("--data-dir", str(tmp_path / "nope"))
    assert code == 2
    assert lines == [f"error: image folder not found: {tmp_path / 'nope'} (check --data-dir)"]


def test_unknown_flag_is_one_line_with_a_suggestion():
    code, lines = run_cli("--batchsize", "8")
    assert code == 2
    assert len(lines) == 1 and "unrecognized arguments: --batchsize" in lines[0]
    assert "did you mean --batch_size?" in lines[0] or "did you mean --batch-size?" in lines[0]


def test_corrupt_image_is_one_warning_and_training_goes_on(tmp_path, tiny_args):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = train_dcgan.main(tiny_args[2:] + ["--data-dir", str(folder), "--steps", "1", "--no-export"])
    messages = [str(w.message) for w in caught if "unreadable" in str(w.message)]
    assert len(messages) == 1
    assert messages[0].startswith(f"skipped 1 unreadable image file(s) in {folder} (first: corrupt.jpg: ")
    assert run.has_checkpoint()


def clean_env():
    import os

    drop = ("TF_CPP_MIN_LOG_LEVEL", "KERASGAN_VERBOSE_TF", "TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND")
    return {k: v for k, v in os.environ.items() if k not in drop}


def test_importing_the_library_changes_only_what_it_documents():
    code = ("import os, sys; before = dict(os.environ); import kerasgan; "
            "print(sorted(k for k in os.environ if os.environ[k] != before.get(k)), 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], env=clean_env(), cwd=ROOT, capture_output=True, text=True)
    assert (result.stdout.strip(), result.stderr) == ("['KERAS_BACKEND', 'TF_ENABLE_ONEDNN_OPTS'] False", "")


def test_importing_the_commands_changes_nothing_for_the_process():
    # Keras imports cv2 when OpenCV is installed (a kerasgan dependency, for --detector), and
    # OpenCV's loader prepends its own folder to LD_LIBRARY_PATH: allowed, only in that form.
    code = ("import os, sys; before = dict(os.environ); import kerasgan.commands.main, kerasgan.commands.common; "
            "changed = sorted(k for k in os.environ if os.environ[k] != before.get(k)); "
            "opencv = 'cv2' in sys.modules and os.environ.get('LD_LIBRARY_PATH', '').startswith("
            "os.path.dirname(sys.modules['cv2'].__file__)) and os.environ['LD_LIBRARY_PATH'].endswith("
            "before.get('LD_LIBRARY_PATH', '')); "
            "print([k for k in changed if not (k == 'LD_LIBRARY_PATH' and opencv)])")
    result = subprocess.run([sys.executable, "-c", code], env=clean_env(), cwd=ROOT, capture_output=True, text=True)
    assert result.stdout.strip() == "['KERAS_BACKEND', 'TF_ENABLE_ONEDNN_OPTS']"  # kerasgan's own two
    assert "oneDNN custom operations" in result.stderr  # TensorFlow's log lines, not hidden by an import


def test_a_command_hides_tensorflow_log_lines_unless_asked_for(tmp_path):
    """A whole training run's stderr through the command: no TensorFlow C++ line; with
    KERASGAN_VERBOSE_TF=1 they are all there."""
    argv = [sys.executable, str(ROOT / "train_dcgan.py"), "--steps", "2", "--num-images", "16", "--batch-size", "8",
            "--width", "4", "--noise-dim", "8", "--verbose", "0", "--no-export"]
    quiet = subprocess.run(argv, env=clean_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr[-2000:]
    loud = subprocess.run(argv + ["--name", "loud"], env={**clean_env(), "KERASGAN_VERBOSE_TF": "1"}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert loud.returncode == 0 and "oneDNN custom operations" in loud.stderr


def test_the_log_filter_drops_tensorflow_lines_and_passes_the_rest_at_once():
    from kerasgan.commands.tf_logs import LogLineFilter

    log_filter = LogLineFilter()
    chunks = [b"I0000 00:00:1796668682.639551   17794 port.cc:153] oneDNN custom operations are on.\n",
              b"error: a real problem\n2026-12-07 18:00:00.123456: W tensorflow/core/x.cc:1] noise\n",
              b"\r  40%|####      | 4/10", b"E0000 00:00:17966.5 61 meta_optimizer", b".cc:967] remapper failed\n"]
    passed = [log_filter.feed(chunk) for chunk in chunks] + [log_filter.flush()]
    assert passed == [b"", b"error: a real problem\n", b"\r  40%|####      | 4/10", b"", b"", b""]
    assert log_filter.dropped == 3
