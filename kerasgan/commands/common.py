"""What every kerasgan command shares: one-line errors, parsers built from a config, the run wrapper.

Flags are spelled with dashes; the course scripts' spellings (`--batch_size`, ...) are
accepted as aliases so users' muscle memory keeps working. A training command's flags are
the fields of its recipe's config (kerasgan/config.py), one to one.
"""

import argparse
import difflib
import types

from kerasgan.config import flags_of
from kerasgan.errors import UserError


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (and a "did you mean" for misspelt flags)."""

    def error(self, message):
        if message.startswith("unrecognized arguments"):
            flags = [s for a in self._actions for s in a.option_strings]
            unknown = message.split(":", 1)[1].split()
            close = difflib.get_close_matches(unknown[0], flags, n=1, cutoff=0.75) if unknown else []
            if close:
                message += f" (did you mean {close[0]}?)"
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {text}")
    return value


def _value_type(f):
    """The argparse type of a config field, from its annotation (`int | None` -> int)."""
    annotation = f.type
    kinds = getattr(annotation, "__args__", (annotation,))
    for kind in (bool, int, float, str, tuple):
        if kind in kinds:
            return kind
    return str


def add_config_args(parser, config_cls, groups=None):
    """One flag per field of `config_cls`, in field order, grouped as the fields say.

    Every default is SUPPRESS: the namespace holds only what the user gave, which is what
    resume compares with the run's config.json and what model defaults must not override.
    """
    groups = {} if groups is None else groups
    for f in config_cls.fields():
        meta = f.metadata
        group_name = meta["group"]
        if group_name not in groups:
            groups[group_name] = parser.add_argument_group(group_name)
        kind = _value_type(f)
        kwargs = {"dest": f.name, "default": argparse.SUPPRESS, "help": _help(f)}
        if kind is bool:
            kwargs["action"] = "store_true"
        else:
            if kind is tuple:
                kwargs.update(type=float, nargs=meta["nargs"])
            else:
                kwargs["type"] = positive_int if f.metadata.get("positive") else kind
                if meta["nargs"]:
                    kwargs.update(nargs=meta["nargs"], const=meta["const"])
            if meta["choices"]:
                kwargs["choices"] = meta["choices"]
            if meta["metavar"]:
                kwargs["metavar"] = meta["metavar"]
        groups[group_name].add_argument(*flags_of(f), **kwargs)
    return groups


def _help(f):
    text = f.metadata["help"]
    default = f.default if not callable(getattr(f, "default_factory", None)) else f.default_factory()
    if default is None or default == "" or default is False or "default" in text:
        return text or None
    shown = " ".join(str(v) for v in default) if isinstance(default, tuple) else default
    return f"{text} (default {shown})" if text else f"default {shown}"


def given_options(namespace):
    """{field: value} of the flags the user gave (tuples for nargs lists)."""
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in vars(namespace).items()}


def add_xla_switch(parser):
    """--no-xla, the same as --xla off; given beside --xla on/auto it is an error, not "the last wins"."""
    parser.add_argument("--no-xla", dest="no_xla", action="store_true", default=argparse.SUPPRESS,
                        help="same as --xla off")


def apply_xla_switch(given):
    if given.pop("no_xla", False):
        if given.get("xla", "off") != "off":
            raise UserError(f"--xla {given['xla']} and --no-xla contradict each other: give one of them")
        given["xla"] = "off"
    return given


def namespace(**values):
    return types.SimpleNamespace(**values)
