"""Tasks, one file each. `make_task(name, **options)` builds one by name."""
from __future__ import annotations

import difflib
import inspect

from egogym.core.configs import nearest

from egogym.tasks.base import Score, Task
from egogym.tasks.handover import HandOver
from egogym.tasks.object_in_bowl import ObjectInBowl

TASKS: dict[str, type[Task]] = {t.name: t for t in (ObjectInBowl, HandOver)}


def make_task(name: str, **options) -> Task:
    """The task registered as `name`, configured with `options`."""
    if name not in TASKS:
        near = difflib.get_close_matches(name, TASKS, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ValueError(f"unknown task {name!r}{hint} (known: {', '.join(TASKS)})")
    known = [k for k in inspect.signature(TASKS[name].__init__).parameters if k != "self"]
    for k in options:
        if k not in known:
            raise ValueError(f"task {name!r} has no option {k!r}; {nearest(k, known)}")
    return TASKS[name](**options)


__all__ = ["TASKS", "HandOver", "ObjectInBowl", "Score", "Task", "make_task"]
