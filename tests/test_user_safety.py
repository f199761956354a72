"""Bad input is one line, and users' files are never overwritten (issue: 'Nothing lost').

Each test reproduces a case that used to lose data, do something silently wrong or print a
traceback.
"""

import http.server
import subprocess
import sys
import threading

import keras
import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from kerasgan.commands import client, generate, translate
from kerasgan.commands import train_cyclegan as train_cyclegan_command
from kerasgan.commands import train_gan as train_dcgan
from kerasgan.errors import UserError
from kerasgan.export import export_generator, export_translator, find_export, load_saved_model


def write_images(folder, names, size=16, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / name)
    return folder


@pytest.fixture(scope="module")
def identity_translator(tmp_path_factory):
    """A 1x1-conv 'CycleGAN generator' that returns its input, exported as a translator."""
    model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 1, use_bias=False)])
    model.layers[0].set_weights([np.eye(3, dtype=np.float32)[None, None]])
    return export_translator(model, tmp_path_factory.mktemp("exports"), "ident", 16)


@pytest.fixture(scope="module")
def tiny_generator(tmp_path_factory):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4 * 4 * 3, activation="tanh"),
                              keras.layers.Reshape((4, 4, 3))])
    return export_generator(model, tmp_path_factory.mktemp("exports"), "tiny")


# -- translate and generate never overwrite ---------------------------------------------------
def test_translate_refuses_an_output_inside_its_input(identity_translator, tmp_path):
    photos = write_images(tmp_path / "photos", ["a.png", "b.jpg"])
    before = {p.name: p.read_bytes() for p in photos.iterdir()}
    for output in (photos, photos / "out"):
        with pytest.raises(UserError, match="lies inside --input"):
            translate.main(["--model", str(identity_translator), "--input", str(photos), "--output", str(output)])
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before


def test_translate_keeps_distinct_outputs_for_inputs_sharing_a_stem(identity_translator, tmp_path):
    photos = write_images(tmp_path / "photos", ["a.png", "a.jpg", "b.bmp"])
    written = translate.main(["--model", str(identity_translator), "--input", str(photos),
                              "--output", str(tmp_path / "out")])
    assert sorted(p.name for p in written) == ["a.jpg.png", "a.png", "b.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "a.png")),
                                  np.asarray(Image.open(photos / "a.png")))  # the identity, exactly


def test_translate_never_replaces_existing_results_unless_asked(identity_translator, tmp_path):
    photos = write_images(tmp_path / "photos", ["a.png"])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"mine")
    argv = ["--model", str(identity_translator), "--input", str(photos), "--output", str(tmp_path / "out")]
    with pytest.raises(UserError, match="already exist.*--overwrite"):
        translate.main(argv)
    assert (tmp_path / "out" / "a.png").read_bytes() == b"mine"
    translate.main(argv + ["--overwrite"])
    assert (tmp_path / "out" / "a.png").read_bytes() != b"mine"


def test_translate_with_no_readable_image_is_an_error(identity_translator, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(UserError, match="no readable image"):
        translate.main(["--model", str(identity_translator), "--input", str(photos),
                        "--output", str(tmp_path / "out")])


def test_generate_never_replaces_a_file_and_refuses_a_folder(tiny_generator, tmp_path):
    target = tmp_path / "grid.png"
    target.write_bytes(b"mine")
    with pytest.raises(UserError, match="exists.*--overwrite"):
        generate.main(["--model", str(tiny_generator), "--output", str(target)])
    assert target.read_bytes() == b"mine"
    generate.main(["--model", str(tiny_generator), "--output", str(target), "--overwrite", "--num", "4"])
    assert np.asarray(Image.open(target)).ndim == 3
    with pytest.raises(UserError, match="is a folder"):
        generate.main(["--model", str(tiny_generator), "--output", str(tmp_path)])


# -- damaged exports ------------------------------------------------------------------------
def damaged_copy(export, tmp_path, damage):
    import shutil

    copy = tmp_path / "model" / "1"
    shutil.copytree(export, copy)
    damage(copy)
    return copy


@pytest.mark.parametrize("damage, message", [
    (lambda d: __import__("shutil").rmtree(d / "variables"), "incomplete \\(no variables/ folder\\)"),
    (lambda d: (d / "saved_model.pb").write_bytes(b"not a protobuf"), "could not load the SavedModel"),
])
def test_a_damaged_export_is_one_line(identity_translator, tiny_generator, tmp_path, damage, message):
    for export, run in ((tiny_generator, lambda m: generate.generate(m, num=2)),
                        (identity_translator, lambda m: translate.translate_folder(
                            m, write_images(tmp_path / "in", ["a.png"]), tmp_path / "out"))):
        broken = damaged_copy(export, tmp_path / export.parent.name, damage)
        with pytest.raises(UserError, match=message) as error:
            run(find_export(broken))
        assert "\n" not in str(error.value)
    with pytest.raises(UserError, match=message):
        load_saved_model(broken)


# -- nonsense values and names, before anything trains ----------------------------------------
def run_script(script, *args, cwd=None):
    result = subprocess.run([sys.executable, str(ROOT / script), *args], capture_output=True, text=True,
                            timeout=300, cwd=cwd)
    return result.returncode, result.stderr.strip().splitlines()


@pytest.mark.parametrize("flags, message", [
    (["--lr", "0"], "--lr must be a positive number, got 0.0"),
    (["--lr", "nan"], "--lr must be a positive number, got nan"),
    (["--d-lr", "-1"], "--d-lr must be a positive number, got -1.0"),
    (["--beta1", "5"], "--beta1 must be in [0, 1), got 5.0"),
    (["--label-smoothing", "5"], "--label-smoothing must be in [0, 1), got 5.0"),
    (["--dataset", "shapes", "--data-dir", "somewhere"], "--dataset shapes is built in and reads no files"),
    (["--xla", "on", "--no-xla"], "--xla on and --no-xla contradict each other"),
    (["--name", "../escape"], "--name '../escape' may only hold letters"),
    (["--name", "."], "--name '.' may only hold letters, digits, '.', '_' and '-', and may not start with '.'"),
    (["--name", ".."], "--name '..' may only hold letters"),
    (["--seed", "-1"], "--seed must be a whole number from 0 to 4294967295, got -1"),
    (["--image-size", "100"], "invalid choice: 100"),
    (["--bogus-flag"], "unrecognized arguments: --bogus-flag (see train_dcgan.py --help)"),
    (["--loss", "hinge", "--label-smoothing", "0.1"], "--label-smoothing soften the lsgan and bce losses' real/fake "
                                                      "targets; --loss hinge has no targets"),
    (["--model", "wgan", "--noisy-labels"], "--noisy-labels soften the lsgan and bce losses' real/fake targets; "
                                            "--loss wgan has no targets"),
    (["--loss", "bce", "--lsgan-targets", "-1", "1", "0"], "--lsgan-targets set the least squares loss's targets, not "
                                                            "--loss bce's"),
    (["--epochs", "2"], "--steps 1 and --epochs 2 both set the run's length: give one"),
    (["--dataset", "/no/such/folder"], "folder not found: /no/such/folder"),
])
def test_nonsense_training_values_are_one_line_before_training(tmp_path, flags, message):
    code, lines = run_script("train_dcgan.py", *flags, "--steps", "1", cwd=tmp_path)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert not (tmp_path / "runs").exists()  # refused before a run directory was made


@pytest.mark.parametrize("flags, message", [
    (["--lambda-cycle", "-5"], "--lambda-cycle must be 0 or more, got -5.0"),
    (["--lambda-identity", "nan"], "--lambda-identity must be 0 or more"),
    (["--lr=-2e-4"], "--lr must be a positive number"),
])
def test_nonsense_cyclegan_values_are_one_line(flags, message):
    with pytest.raises(UserError, match=message.replace("(", "\\(").replace("[", "\\[")):
        train_cyclegan_command.main([*flags, "--steps", "1"])


def test_a_read_only_runs_folder_is_one_line(tiny_args, tmp_path, monkeypatch):
    # Root ignores permission bits, so the refusal the OS would give is simulated.
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    import kerasgan.runs

    monkeypatch.setattr(kerasgan.runs.Run, "lock", refuse)
    with pytest.raises(UserError, match="cannot write to .*writable --runs-dir"):
        train_dcgan.main(tiny_args + ["--steps", "1"])


def test_an_exports_folder_that_cannot_be_written_is_refused_before_training(tiny_args, tmp_path):
    blocked = tmp_path / "exports-is-a-file"
    blocked.write_text("not a folder")
    with pytest.raises(UserError, match="cannot write exports to .*writable --exports-dir, or add --no-export"):
        train_dcgan.main(tiny_args[:-4] + ["--runs-dir", str(tmp_path / "runs"), "--exports-dir", str(blocked),
                                           "--steps", "1"])
    assert not (tmp_path / "runs").exists()  # found before any training


@pytest.mark.parametrize("kind", ["cyclegan", "gan"])
def test_resuming_a_run_with_the_other_training_command_is_one_line(tmp_path, kind):
    from kerasgan.config import CycleGANConfig, GANConfig
    from kerasgan.runs import Run

    config, command, other = ((CycleGANConfig, train_dcgan, "kerasgan train-cyclegan") if kind == "cyclegan"
                              else (GANConfig, train_cyclegan_command, "kerasgan train"))
    run = Run(tmp_path / "runs" / "theirs")
    run.checkpoints.mkdir(parents=True)
    run.config_path.write_text(__import__("json").dumps(config(name="theirs").to_dict()))
    run.checkpoint_path().write_bytes(b"weights")
    with pytest.raises(UserError, match=f"is a {'CycleGAN' if kind == 'cyclegan' else 'GAN'} run: resume it with "
                                        f"`{other} --name theirs --resume`"):
        command.main(["--runs-dir", str(tmp_path / "runs"), "--name", "theirs", "--resume"])


@pytest.mark.parametrize("name", ["samples.txt", "model.pb", "grid"])
def test_generate_wants_an_image_file_name(tmp_path, name):
    with pytest.raises(UserError, match=f"--output .*{name} is not an image file name: end it in .png"):
        generate.check_output_file(tmp_path / name)
    assert generate.check_output_file(tmp_path / "grid.jpg") == tmp_path / "grid.jpg"


def test_the_python_api_raises_the_standard_exception_kinds(tmp_path):
    from kerasgan import GAN

    with pytest.raises(ValueError, match="--image-size must be one of 16, 32, 64, 128, 256, 512, got 100"):
        GAN(image_size=100, runs_dir=str(tmp_path))  # in the constructor, not at fit
    with pytest.raises(FileNotFoundError, match="folder not found: /no/such/folder"):
        GAN(runs_dir=str(tmp_path), no_export=True).fit("/no/such/folder")
    assert not any(tmp_path.iterdir())  # no run folder left behind
    with pytest.raises(UserError):  # one base class for the command line's one-line errors
        GAN(seed=-3)


def test_a_library_module_run_as_a_command_says_which_commands_there_are(tmp_path):
    result = subprocess.run([sys.executable, "-m", "kerasgan.experiment", "plan.toml"], cwd=tmp_path,
                            env=__import__("conftest").script_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == ["error: kerasgan.experiment is a library module, not a command: run "
                                          "`kerasgan COMMAND` (or `python -m kerasgan COMMAND` from a checkout); "
                                          "`kerasgan --help` lists the commands"]


def test_ctrl_c_while_a_command_starts_is_one_line(tmp_path):
    import signal
    import time

    # A shell's background job (`pytest ... &`) ignores SIGINT and its children inherit that, so
    # the command would never see the signal: give it a terminal's default, as a user's has.
    process = subprocess.Popen([sys.executable, str(ROOT / "train_dcgan.py"), "--steps", "1"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=__import__("conftest").script_env(),
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(1.0)  # importing TensorFlow takes several seconds
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err.strip().splitlines() == ["interrupted"], err


def test_a_killed_exports_temporary_folder_is_removed_by_the_next_export(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / "gen" / f".tmp-{int(finished.stdout)}-0a1b2c3d"  # its writer is gone
    left.mkdir(parents=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4 * 4 * 3), keras.layers.Reshape((4, 4, 3))])
    export_generator(model, tmp_path, "gen")
    assert not left.exists() and (tmp_path / "gen" / "1").is_dir()


def test_gif_files_are_images_of_a_folder(tmp_path):
    from kerasgan.data.folder import list_images, load_folder

    write_images(tmp_path / "imgs", ["a.png", "b.gif"])
    assert [p.name for p in list_images(tmp_path / "imgs")] == ["a.png", "b.gif"]
    assert load_folder(tmp_path / "imgs", 16).shape == (2, 16, 16, 3)


# -- the serving client ---------------------------------------------------------------------
@pytest.fixture
def html_server():
    """A web server on loopback that is not TF Serving: it answers every POST with a page."""

    class Handler(http.server.BaseHTTPRequestHandler):
        status = 200

        def do_POST(handler):  # noqa: N802
            handler.send_response(Handler.status)
            handler.send_header("Content-Type", "text/html")
            handler.end_headers()
            handler.wfile.write(b"<!DOCTYPE html><html><body>\n<h1>Welcome to nginx!</h1>\n</body></html>\n" * 20)

        def log_message(handler, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, Handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("status", [200, 404, 500])
def test_the_client_says_in_one_line_that_a_port_is_not_tf_serving(html_server, status):
    server, handler = html_server
    handler.status = status
    port = server.server_address[1]
    with pytest.raises(UserError, match=f"127.0.0.1:{port} answered, but not as TF Serving's REST API") as error:
        client.rest_predict("127.0.0.1", port, "gen", {"inputs": {}}, timeout=10)
    assert "\n" not in str(error.value) and "<html" not in str(error.value)


def test_the_client_still_reports_tf_serving_errors():
    assert client._serving_error('{"error": "Servable not found for request"}') == "Servable not found for request"
    assert client._serving_error("<html>nope</html>") is None

