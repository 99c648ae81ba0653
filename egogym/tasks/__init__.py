"""Layer 3, tasks: declarations, one file each (numpy only; no simulator).

`make_task(name, **options)` builds one by name; `task.sample_episode(rng)` draws an
episode, the one function every embodiment's placements come from.
"""
from __future__ import annotations

import dataclasses
import difflib

from egogym.core.configs import nearest
from egogym.tasks.base import Task
from egogym.tasks.handover import HandOver
from egogym.tasks.object_in_bowl import Appearance, Episode, ObjectInBowl

TASKS: dict[str, type[Task]] = {t.name: t for t in (ObjectInBowl, HandOver)}


TASK_OPTION_HELP = ("task option K=V, the value as JSON (repeatable): placement toy_region='[[0.08,0.3],[-0.36,-0.19]]', "
                    "bowl_region, min_separation, toy_yaw; objects toys='[\"cube\",\"block\"]'; appearance "
                    "toy_colours='[\"red\",\"blue\"]', table_colours, lights='[\"default\",\"dim\"]', "
                    "distractors='[\"mug\",\"none\"]' (names: egogym.tasks.objects); rest_steps, time_limit_s")
"""`--task-option` help, shared by `egogym collect` and `egogym eval`."""


def task_options(name: str) -> list[str]:
    """The option names of task `name` (the fields of its declaration)."""
    return [f.name for f in dataclasses.fields(TASKS[name])]


def make_task(name: str, **options) -> Task:
    """The task registered as `name`, configured with `options` (JSON values: lists for tuples)."""
    if name not in TASKS:
        near = difflib.get_close_matches(name, TASKS, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ValueError(f"unknown task {name!r}{hint} (known: {', '.join(TASKS)})")
    known = task_options(name)
    for k in options:
        if k not in known:
            raise ValueError(f"task {name!r} has no option {k!r}; {nearest(k, known)}")
    return TASKS[name](**options)


__all__ = ["TASKS", "TASK_OPTION_HELP", "Appearance", "Episode", "HandOver", "ObjectInBowl", "Task", "make_task", "task_options"]
