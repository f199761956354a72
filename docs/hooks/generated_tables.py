"""MkDocs hook: the tables that must not drift from the code, generated at build time.

A page asks for a table with an HTML comment on a line of its own:

    <!-- flags: train -->        every flag of `kerasgan train`, one row each
    <!-- commands -->            the subcommands of `kerasgan`
    <!-- model-defaults -->      the GAN family's defaults per --model (GANConfig.resolved())
    <!-- gallery -->             how each picture of docs/make_gallery.py was made (docs/img/gallery.json)

The training commands' rows come from their typed configs (kerasgan/config.py: each field's
flags, default, choices and help, and whether a resumed run may change it); the other
commands' rows, and the training commands' few flags that are not config fields (--resume,
--no-xla), come from the commands' argparse parsers (`build_parser()`). Importing the
commands imports TensorFlow, so a build spends a TensorFlow import (seconds) here; the API
reference itself is read from the source by griffe without importing anything.
"""

import argparse
import dataclasses
import functools
import importlib
import json
import re
from pathlib import Path

MARKER = re.compile(r"^<!-- (flags: ([a-z-]+)|commands|model-defaults|gallery) -->$", re.MULTILINE)

# Training command -> its config class (kerasgan.config).
TRAINING_CONFIGS = {"train": "GANConfig", "train-cyclegan": "CycleGANConfig", "train-diffusion": "DiffusionConfig"}


def on_page_markdown(markdown, page, config, files):
    def replace(match):
        if match.group(1) == "commands":
            return commands_table()
        if match.group(1) == "model-defaults":
            return model_defaults_table()
        if match.group(1) == "gallery":
            return gallery_table(Path(config["docs_dir"]) / "img")
        return flags_table(match.group(2))

    return MARKER.sub(replace, markdown)


@functools.cache
def subcommands():
    from kerasgan.commands import main

    return main.SUBCOMMANDS


def parser_of(command):
    if command not in subcommands():
        raise ValueError(f"<!-- flags: {command} -->: no such kerasgan command (choose from {', '.join(subcommands())})")
    module = importlib.import_module(subcommands()[command][0])
    return module.build_parser()


def cell(text):
    """Text made safe for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def sentence(text):
    """Help text ending with a full stop, so further notes read as sentences."""
    text = " ".join((text or "").split())
    return text + "." if text and text[-1] not in ".!?" else text


def with_metavar(flags, metavar):
    """`--flag METAVAR` when the code names the value (e.g. `--folders A B`), else `--flag`."""
    if not metavar:
        return code(flags)
    shown_value = " ".join(metavar) if isinstance(metavar, (tuple, list)) else metavar
    return ", ".join([f"`{flags[0]} {shown_value}`", *(f"`{f}`" for f in flags[1:])])


def code(values):
    return ", ".join(f"`{v}`" for v in values)


def shown(value):
    if value is None or value == "" or value is False:
        return ""
    if isinstance(value, (tuple, list)):
        return "`" + " ".join(str(v) for v in value) + "`"
    return f"`{value}`"


def flags_table(command):
    parser = parser_of(command)
    rows = ["| flag | default | meaning |", "|---|---|---|"]
    config_fields = []
    if command in TRAINING_CONFIGS:
        from kerasgan import config as configs

        config_cls = getattr(configs, TRAINING_CONFIGS[command])
        config_fields = list(dataclasses.fields(config_cls))
        group = None
        for f in config_fields:
            meta = f.metadata
            if meta.get("group") != group:
                group = meta.get("group")
                rows.append(f"| **{cell(group)}** | | |")
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default
            meaning = [sentence((meta.get("help") or "").replace("%%", "%"))]  # argparse's escape
            if meta.get("choices"):
                meaning.append(f"Choices: {code(meta['choices'])}.")
            if not meta.get("changes_run", True):
                meaning.append("*May change on `--resume`.*")
            meaning.append(f"Python: `{f.name}`.")
            meaning = " ".join(m for m in meaning if m)
            flags = with_metavar(configs.flags_of(f), meta.get("metavar"))
            rows.append(f"| {flags} | {shown(default)} | {cell(meaning)} |")
    names = {f.name for f in config_fields}
    formatter = parser._get_formatter()
    extra = [a for a in parser._actions
             if not isinstance(a, argparse._HelpAction) and a.dest not in names and a.help != argparse.SUPPRESS]
    if config_fields and extra:
        rows.append("| **not config fields** | | |")
    for action in extra:
        if action.option_strings:
            flag = with_metavar(action.option_strings, action.metavar)
        else:
            flag = f"`{action.metavar or action.dest.upper()}` (positional)"
        default = action.default
        if default is argparse.SUPPRESS or isinstance(action, argparse._StoreTrueAction) or default == []:
            default = None
        meaning = [sentence(formatter._expand_help(action) if action.help else "")]
        if action.choices:
            meaning.append(f"Choices: {code(action.choices)}.")
        if action.required:
            meaning.append("Required.")
        meaning = " ".join(m for m in meaning if m)
        rows.append(f"| {flag} | {shown(default)} | {cell(meaning)} |")
    return "\n".join(rows)


def commands_table():
    rows = ["| command | what | flags |", "|---|---|---|"]
    for name, (_, text) in subcommands().items():
        rows.append(f"| `kerasgan {name}` | {cell(text)} | [all flags](commands.md#{name}) |")
    return "\n".join(rows)


# The options whose defaults depend on --model (and the shapes data): shown if set for some model.
MODEL_DEFAULT_FIELDS = ("loss", "image_size", "batch_size", "width", "noise_dim", "latent", "optimizer", "lr",
                        "g_lr", "beta1", "beta2", "n_critic", "d_norm", "init", "activation", "ema",
                        "g_full_res_convs", "g_conditioning", "d_conditioning", "mismatch")


def model_defaults_table():
    from kerasgan.config import MODELS, GANConfig

    columns = [(model, GANConfig(model=model, data_dir="path/to/images").resolved()) for model in MODELS]
    columns.append(("dcgan on shapes", GANConfig(model="dcgan").resolved()))
    fields = [name for name in MODEL_DEFAULT_FIELDS
              if any(getattr(c, name, None) not in (None, "") for _, c in columns)]
    rows = ["| model | " + " | ".join(f"`{name}`" for name in fields) + " |",
            "|---|" + "---|" * len(fields)]
    for model, resolved in columns:
        values = [shown(getattr(resolved, name)) or "-" for name in fields]
        rows.append(f"| {model} | " + " | ".join(values) + " |")
    return "\n".join(rows)


def gallery_table(folder):
    """One row per picture that docs/make_gallery.py trained for, from its gallery.json."""
    records = json.loads((folder / "gallery.json").read_text())
    rows = ["| picture | command | steps | wall time | CPU time | load average (start, end) | date |",
            "|---|---|---|---|---|---|---|"]
    for name, r in records.items():
        picture = f"[{name}](img/{r['picture']})"
        load = ", ".join(f"{v:g}" for v in r["load_average"]) if r["load_average"] else "not recorded"
        cpu = f"{r['cpu_minutes']:g} min" if r["cpu_minutes"] is not None else "not recorded"
        rows.append(f"| {picture} | `{r['command']}` | {r['steps']} | {r['wall_minutes']:g} min | {cpu} | {load} | "
                    f"{r['date']} |")
    return "\n".join(rows)

