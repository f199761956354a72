"""The package's shape: installable, its import graph acyclic and pointing one way, no scripts imported.

Layers (README, Layout), each importing only its own layer or those below it:
  3 commands    kerasgan.commands.*, kerasgan.__main__ and the `python -m kerasgan.X` aliases
  2 library     config, recipes, runs, training, callbacks, metrics, export, scale
  1 building    trainers, nets, losses, data, augment, images, latent, replicas, errors, seeds, progress
  0 kerasgan    the package itself (imports nothing of its own)
"""

import ast
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT

PACKAGE = ROOT / "kerasgan"
SCRIPTS = {p.stem for p in ROOT.glob("*.py")} | {"benchmarks", "tests", "conftest"}
COMMAND_ALIASES = {"kerasgan.evaluate", "kerasgan.client", "kerasgan.__main__"}
BUILDING = ("trainers", "nets", "losses", "data", "augment", "images", "latent", "errors", "replicas", "seeds", "progress")


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer(module):
    if module == "kerasgan":
        return 0
    if module.startswith("kerasgan.commands") or module in COMMAND_ALIASES:
        return 3
    return 1 if module.split(".")[1] in BUILDING else 2


def is_main_guard(node):
    """`if __name__ == "__main__":` runs only when the file is a script (python -m), a module of
    its own: its imports are a command's, not the module's."""
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators))


def imported_names(path):
    """Every absolute name imported by the file, at any depth (lazy imports count too)."""
    tree = ast.parse(path.read_text())
    guarded = {id(n) for node in tree.body if is_main_guard(node) for n in ast.walk(node)}
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    names = []
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names += [f"{base}.{alias.name}" for alias in node.names] + [base]
    return names


def resolve(name):
    """The kerasgan module an imported name lives in (its longest module prefix), else None."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in MODULES:
            return ".".join(parts[:end])
    return None


def import_graph():
    graph = {}
    for module, path in MODULES.items():
        targets = {resolve(n) for n in imported_names(path)}
        graph[module] = {t for t in targets if t and t != module}
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_a_top_level_script():
    offenders = [(module, name) for module, path in MODULES.items() for name in imported_names(path)
                 if name.split(".")[0] in SCRIPTS]
    assert offenders == []


def test_the_import_graph_has_no_cycle():
    assert cycles(import_graph()) == []


def test_dependencies_point_down_the_layers():
    upward = [(a, b) for a, targets in import_graph().items() for b in targets
              if layer(b) > layer(a) and b != "kerasgan"]
    assert upward == []


def area(module):
    return (module.split(".") + [""])[1]


def test_networks_and_data_do_not_import_each_other():
    graph = import_graph()
    crossing = [(a, b) for a, targets in graph.items() for b in targets
                if {area(a), area(b)} == {"nets", "data"}]
    assert crossing == []


def test_no_module_edits_sys_path():
    edits = [module for module, path in MODULES.items() if "sys.path" in path.read_text()]
    assert edits == []


def test_the_checks_catch_what_they_look_for():
    """The walker sees lazy and relative imports and the checks flag them (a cycle, an upward
    import, a script import), so the tests above cannot pass by seeing nothing."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    assert "kerasgan.recipes.gan" in import_graph()["kerasgan.commands.train_gan"]
    assert layer("kerasgan.trainers.gan") < layer("kerasgan.recipes.gan") < layer("kerasgan.commands.train_gan")
    sample = ROOT / "kerasgan" / "nets" / "_layout_probe.py"
    try:
        sample.write_text("def f():\n    from ..recipes import gan\n    import train_dcgan\n")
        names = imported_names(sample)
        assert "kerasgan.recipes.gan" in names and "train_dcgan" in names
    finally:
        sample.unlink()


def test_the_wheel_holds_the_package_and_its_command(tmp_path):
    """`pip wheel` builds kerasgan with its entry point, and the installed command runs from a
    folder outside the checkout."""
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(ROOT / "kerasgan", source / "kerasgan", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
                           capture_output=True, text=True, timeout=600)
    if build.returncode != 0 and "No matching distribution found for setuptools" in build.stderr:
        pytest.skip("no package index to fetch setuptools from")
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("kerasgan-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    expected = {"kerasgan/__init__.py", "kerasgan/commands/main.py", "kerasgan/recipes/gan.py",
                "kerasgan/config.py", "kerasgan/nets/winograd.py", "kerasgan/data/shapes_judge.weights.h5"}
    assert expected <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "train_"))]
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "kerasgan = kerasgan.commands.main:entry_point" in entry_points

    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                              str(wheel)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    for command in (["--help"], ["train", "--help"], ["train-cyclegan", "--help"], ["evaluate", "--help"]):
        result = subprocess.run([str(target / "bin" / "kerasgan"), *command], cwd=outside, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "usage:" in result.stdout
    located = subprocess.run([sys.executable, "-c", "import kerasgan; print(kerasgan.__file__)"], cwd=outside,
                             env=env, capture_output=True, text=True)
    assert located.stdout.strip().startswith(str(target))


def test_the_python_it_claims_is_one_its_dependencies_install_on():
    """pyproject's requires-python is no lower than what each pinned dependency requires (Keras
    3.15 needs 3.11: pip refuses it on 3.10), so no user is promised a Python it cannot install on."""
    import importlib.metadata
    import re
    import tomllib

    claimed = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    floor = lambda spec: tuple(int(x) for x in re.search(r">=\s*([\d.]+)", spec).group(1).split("."))  # noqa: E731
    for package in ("tensorflow", "keras", "tensorflow-datasets", "numpy", "pillow"):
        needed = importlib.metadata.metadata(package)["Requires-Python"]
        assert floor(claimed) >= floor(needed), f"{package} requires Python {needed}; pyproject claims {claimed}"
