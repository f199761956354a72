"""Exports appear whole or not at all: racing exports get distinct versions, a killed export
leaves no integer folder, models.config is replaced atomically, unwritable exports/ is one line."""

import json
import os
import time

import keras
import pytest

from kerasgan import export
from kerasgan.errors import UserError
from kerasgan.export import export_generator, next_version, write_models_config
from kerasgan.export import find_export
from kerasgan.nets.dcgan import build_generator


@pytest.fixture(scope="module")
def generator():
    keras.utils.set_random_seed(0)
    return build_generator(16, noise_dim=4, width=2)


ARCHIVE = type(keras.export.ExportArchive())  # ExportArchive() builds the backend's subclass


def listing(model_dir):
    return sorted(p.name for p in model_dir.iterdir())


def complete(version_dir):
    info = json.loads((version_dir / "assets.extra" / "kerasgan.json").read_text())
    return (version_dir / "saved_model.pb").is_file() and info["version"] == int(version_dir.name)


def test_an_export_racing_another_gets_the_next_version(generator, tmp_path, monkeypatch):
    # The other export starts after this one chose its version and finishes while this one writes.
    real_write_out = ARCHIVE.write_out
    others, started = [], []

    def write_out(archive, path, *args, **kwargs):
        if not started:
            started.append(path)
            others.append(export_generator(generator, tmp_path, "gen", {"who": "other"}))
        return real_write_out(archive, path, *args, **kwargs)

    monkeypatch.setattr(ARCHIVE, "write_out", write_out)
    mine = export_generator(generator, tmp_path, "gen", {"who": "mine"})
    (other,) = others
    assert {mine.name, other.name} == {"1", "2"}
    for path, who in ((mine, "mine"), (other, "other")):
        assert complete(path)
        assert json.loads((path / "assets.extra" / "kerasgan.json").read_text())["who"] == who
    assert listing(tmp_path / "gen") == ["1", "2"]


def test_an_export_killed_mid_write_leaves_no_version(generator, tmp_path, monkeypatch):
    def write_out(archive, path, *args, **kwargs):
        (open(os.path.join(path, "saved_model.pb"), "wb")).write(b"half")
        raise KeyboardInterrupt  # or SIGKILL: the process never gets further

    monkeypatch.setattr(ARCHIVE, "write_out", write_out)
    with pytest.raises(KeyboardInterrupt):
        export_generator(generator, tmp_path, "gen")
    model_dir = tmp_path / "gen"
    assert not [p for p in model_dir.iterdir() if p.name.isdigit()]
    assert listing(model_dir) == []  # the temporary folder is removed when Python still runs
    monkeypatch.undo()
    assert export_generator(generator, tmp_path, "gen").name == "1"


def test_leftovers_of_a_sigkilled_export_are_ignored_and_cleaned_after_an_hour(generator, tmp_path):
    """A temporary folder whose writing process still runs (here: this one) is left for an hour;
    a dead writer's is removed at once (tests/test_user_safety.py)."""
    model_dir = tmp_path / "gen"
    live = f".tmp-{os.getpid()}-live"
    old, recent = model_dir / ".tmp-123-dead", model_dir / live
    for leftover in (old, recent):
        (leftover / "variables").mkdir(parents=True)
        (leftover / "saved_model.pb").write_bytes(b"half")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert next_version(model_dir) == 1
    write_models_config(tmp_path)
    assert "gen" not in (tmp_path / "models.config").read_text()
    with pytest.raises(UserError):
        find_export(model_dir)

    path = export_generator(generator, tmp_path, "gen")
    assert path.name == "1" and complete(path)
    assert listing(model_dir) == [live, "1"]  # a live writer's may be an export in progress
    assert find_export(model_dir) == path


def test_models_config_is_replaced_whole_or_not_at_all(generator, tmp_path, monkeypatch):
    export_generator(generator, tmp_path, "gen")
    before = (tmp_path / "models.config").read_text()
    (tmp_path / "other" / "1").mkdir(parents=True)

    def replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export.os, "replace", replace)
    with pytest.raises(OSError):
        write_models_config(tmp_path)
    assert (tmp_path / "models.config").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["models.config"] or all(
        not p.name.startswith(".models.config.tmp") for p in tmp_path.iterdir())
    monkeypatch.undo()
    write_models_config(tmp_path)
    assert '"other"' in (tmp_path / "models.config").read_text()


def test_an_exports_folder_that_is_a_file_is_one_line(generator, tmp_path):
    (tmp_path / "exports").write_text("not a folder")
    with pytest.raises(UserError, match="cannot write"):
        export_generator(generator, tmp_path / "exports", "gen")


def test_a_read_only_exports_folder_is_one_line(generator, tmp_path, monkeypatch):
    root = tmp_path / "exports"
    root.mkdir()
    real_mkdir = os.mkdir

    def read_only_mkdir(path, *args, **kwargs):  # what EROFS or a chmod 555 folder does (root ignores chmod)
        if str(path).startswith(str(root)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", read_only_mkdir)
    with pytest.raises(UserError, match=f"cannot write .*{root}.*Permission denied"):
        export_generator(generator, root, "gen")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_chmod_read_only_exports_folder_is_one_line(generator, tmp_path):
    root = tmp_path / "exports"
    root.mkdir()
    root.chmod(0o555)
    try:
        with pytest.raises(UserError, match="cannot write"):
            export_generator(generator, root, "gen")
    finally:
        root.chmod(0o755)


@pytest.mark.parametrize("name", [".", "..", ".hidden"])
def test_model_names_cannot_be_dot_folders(generator, tmp_path, name):
    with pytest.raises(UserError, match="model name"):
        export_generator(generator, tmp_path / "exports", name)
