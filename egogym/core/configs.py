"""Frozen dataclass configs from plain dicts (JSON, TOML, backend options), shared by every layer.

`build_frozen(cls, d, where)` refuses unknown keys with the nearest known name, turns lists
into tuples for tuple-typed fields, and reports a wrong field as one line naming `where`.
The dataclass's own `__post_init__` checks values and ranges.
"""
from __future__ import annotations

import dataclasses
import json
import difflib
from typing import Any, Iterable, Mapping

from egogym.core.errors import UserError


NEAREST_CUTOFF = 0.7
"""Least `difflib` similarity ratio for a "did you mean": one or two letters wrong (`stpes`, `papr`,
`calibraton`) score 0.75 and more; unrelated names score below (`learning_rate` vs `early_repeat`
0.48, `evaluation` vs `ablations` 0.63) and get the list instead."""


def nearest(name: str, choices: Iterable[str]) -> str:
    """"did you mean 'x'?" for the choice that `name` abbreviates or extends (`evaluation` ->
    `eval`), else the closest one above NEAREST_CUTOFF, else the list to choose from: a
    suggestion of an unrelated name misleads more than none."""
    name = str(name)
    choices = sorted(str(c) for c in choices)
    low = name.lower()
    prefix = [c for c in choices if min(len(c), len(low)) >= 3 and (low.startswith(c.lower()) or c.lower().startswith(low))]
    close = (sorted(prefix, key=lambda c: abs(len(c) - len(name)))[:1]
             or difflib.get_close_matches(name, choices, n=1, cutoff=NEAREST_CUTOFF))
    return f"did you mean {close[0]!r}?" if close else f"choose from {choices}"


def check_keys(cls, d: Mapping, where: str, error: type[Exception] = UserError) -> None:
    """Raise `error` naming the first key of `d` that is not a field of dataclass `cls`."""
    names = [f.name for f in dataclasses.fields(cls)]
    for k in d:
        if k not in names:
            raise error(f"{where}: unknown key {k!r}; {nearest(k, names)}")


def build_frozen(cls, d: Any, where: str, error: type[Exception] = UserError):
    """An instance of dataclass `cls` from the mapping `d` (or `d` itself if it is one).

    Lists become tuples where the field's type is a tuple; a TypeError of the constructor
    (a missing required field) becomes `error` naming `where`."""
    if isinstance(d, cls):
        return d
    if not isinstance(d, Mapping):
        raise error(f"{where}: expected a table of fields, got {type(d).__name__} {d!r}")
    check_keys(cls, d, where, error)
    kw = {}
    for f in dataclasses.fields(cls):
        if f.name in d:
            v = d[f.name]
            kw[f.name] = tuple(v) if isinstance(v, list) and str(f.type).startswith("tuple") else v
    try:
        return cls(**kw)
    except TypeError as e:
        raise error(f"{where}: {e}") from None


def parse_options(items: list[str] | None, flag: str) -> dict:
    """`k=v` strings -> dict; values are JSON (numbers, lists, true/false); a plain word is a string.
    A value that starts like JSON but does not parse is refused (it would reach the task as a string)."""
    out: dict = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"{flag} {item!r}: write it as key=value")
        k, v = item.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError as e:
            if v[:1] in "[{\"-0123456789" or v in ("true", "false", "null"):
                raise UserError(f"{flag} {item!r}: the value is not valid JSON ({e.msg} at character {e.pos}); "
                                f"quote it for the shell, e.g. {k}='[[0.08, 0.3], [-0.36, -0.19]]'") from None
            out[k] = v  # a plain word: a string option
    return out
