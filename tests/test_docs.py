"""The documentation: the site builds with no broken link or anchor, its generated tables hold
every flag, its API reference every public name, and the README stays a short front door."""

import importlib
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

README_MAX_LINES = 250
# "#13" and the like: the README speaks to users, not about the project's issue tracker.
ISSUE_NUMBER = re.compile(r"(?<![\w&/#])#\d+\b")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built by `mkdocs build --strict` into a temporary folder (about 15-30 s)."""
    try:
        importlib.import_module("mkdocs")
    except ImportError:
        message = "mkdocs is not installed: pip install -e '.[docs]' (requirements.txt lists it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                           check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return out


def page(site, name):
    return (site / name / "index.html").read_text()


def test_every_flag_of_every_command_is_in_the_flag_reference(site):
    import argparse

    from kerasgan.commands.main import SUBCOMMANDS

    html = page(site, "commands")
    sections = re.split(r'<h2 id="', html)[1:]
    by_command = {section.split('"', 1)[0]: section for section in sections}
    for command, (module_name, _) in SUBCOMMANDS.items():
        assert command in by_command, f"no section for kerasgan {command}"
        parser = importlib.import_module(module_name).build_parser()
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:
                continue
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert re.search(rf"<code>{re.escape(flag)}[ <]", by_command[command]), \
                        f"kerasgan {command} {flag} is missing"


def test_the_api_reference_documents_every_public_name(site):
    import kerasgan
    import kerasgan.metrics

    html = page(site, "api")
    for name, module in kerasgan._API.items():
        assert f'id="{module}.{name}"' in html, f"kerasgan.{name} ({module}) is not in the API reference"
    for name in kerasgan.metrics.__all__:
        assert re.search(rf'id="kerasgan\.metrics\.\w+\.{name}"', html), f"kerasgan.metrics.{name} is missing"


def test_the_readme_is_a_short_front_door():
    text = (ROOT / "README.md").read_text()
    lines = text.count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; the measurements belong in docs/results.md"
    assert not ISSUE_NUMBER.findall(text), f"README.md names issues {ISSUE_NUMBER.findall(text)}"


def test_the_readme_links_and_pictures_exist():
    text = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)[^)]*\)", text) + re.findall(r'src="([^"]+)"', text)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert local, "the README links to no page or picture"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_the_pictures_stay_small():
    pictures = sorted((ROOT / "docs" / "img").glob("*.png"))
    total = sum(p.stat().st_size for p in pictures)
    assert 0 < len(pictures) <= 16 and total <= 800_000, f"{len(pictures)} pictures, {total} bytes"
