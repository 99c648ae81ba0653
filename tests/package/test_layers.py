"""The layers of docs/ARCHITECTURE.md hold: every import (module-level or inside a function)
points down or sideways, never up; module-level imports have no cycles; the core and the data
layer import without MuJoCo; `import egogym` loads no simulator and no torch."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "egogym"

LAYERS = {  # longest prefix wins
    "egogym": 1, "egogym.core": 1,
    "egogym.data": 2,
    "egogym.tasks": 3,
    "egogym.sim": 4, "egogym.real": 4,
    "egogym.env": 5,
    "egogym.pipelines": 6,
    "egogym.policies": 7,
    "egogym.eval": 8,
    "egogym.integrations": 8,  # other projects' entry points (a LeRobot env); nothing imports them
    "egogym.cli": 9,
}
BACKENDS = ("egogym.sim", "egogym.real")
"""The two backends share a layer; the real robot reaches the twin only lazily, for the run-time
arm views rendered from the twin (`egogym.sim.arm_views`), never at import."""
EVAL_MAY_IMPORT_FROM_POLICIES = {"egogym.policies", "egogym.policies.config", "egogym.policies.kinds"}
"""Evaluation reaches policies through their public entry points only (the --policy kinds, the run config)."""


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def imports(path: Path) -> list[tuple[str, bool]]:
    """(imported egogym module, at module level?) for every import in the file."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for n in names:
            if n.split(".")[0] == "egogym":
                out.append((n, id(node) in top))
    return out


MODULES = {module_name(p): p for p in PKG.rglob("*.py")}


def resolve(name: str) -> str | None:
    """The module an imported name belongs to (`egogym.core.spec.EGOMIMIC` -> `egogym.core.spec`)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def test_no_import_points_up():
    bad = []
    for mod, path in MODULES.items():
        for name, _ in imports(path):
            target = resolve(name)
            if target and layer(target) > layer(mod):
                bad.append(f"{mod} (layer {layer(mod)}) imports {target} (layer {layer(target)})")
    assert not bad, "\n".join(bad)


def test_eval_reaches_policies_only_through_their_entry_points():
    bad = [f"{mod} imports {resolve(n)}" for mod, path in MODULES.items() if mod.startswith("egogym.eval")
           for n, _ in imports(path)
           if resolve(n) and resolve(n).startswith("egogym.policies") and resolve(n) not in EVAL_MAY_IMPORT_FROM_POLICIES]
    assert not bad, "\n".join(bad)


def test_the_real_backend_imports_the_twin_only_lazily():
    bad = [f"{mod} imports {resolve(n)} at module level" for mod, path in MODULES.items()
           if mod.startswith("egogym.real") for n, top in imports(path)
           if top and resolve(n) and resolve(n).startswith("egogym.sim")]
    assert not bad, "\n".join(bad)


def test_tasks_import_nothing_from_the_backends_or_above():
    bad = [f"{mod} imports {resolve(n)}" for mod, path in MODULES.items() if mod.startswith("egogym.tasks")
           for n, _ in imports(path) if resolve(n) and layer(resolve(n)) >= layer("egogym.sim")]
    assert not bad, "\n".join(bad)


def test_no_module_level_import_cycles():
    graph = {mod: {resolve(n) for n, top in imports(p) if top and resolve(n) and resolve(n) != mod}
             for mod, p in MODULES.items()}
    # a package's __init__ is imported by its submodules implicitly; those edges are not cycles
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in graph.get(m, ()):
            if t.startswith(m + "."):  # a package importing its own submodule
                continue
            if state.get(t) == 1:
                cycle = stack[stack.index(t):] + [t]
                if not all(a.startswith(b + ".") or b.startswith(a + ".") for a, b in zip(cycle, cycle[1:])):
                    pytest.fail("import cycle: " + " -> ".join(cycle))
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


BLOCK = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError(name + ' is blocked by this test')
sys.meta_path.insert(0, Block())
"""


def run_blocked(code: str, blocked: set[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK.format(blocked=blocked) + code], capture_output=True, text=True)


def test_core_data_and_normalisation_import_without_mujoco():
    code = ("import egogym, egogym.core.spec, egogym.core.geometry, egogym.core.kinematics, egogym.core.views, "
            "egogym.core.protocols, egogym.data.schema, egogym.data.reader, egogym.data.writer, "
            "egogym.data.stats, egogym.data.commands, egogym.data.export, egogym.data.lerobot, "
            "egogym.policies.normalize, egogym.policies.config\nprint('ok')")
    res = run_blocked(code, {"mujoco", "dm_control"})
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]


def test_tasks_and_the_real_backend_import_without_mujoco():
    """The robot's computer reads a task's declaration and runs the real backend without the
    simulator: both import with MuJoCo and dm_control blocked, and load neither."""
    code = ("import sys, egogym.tasks, egogym.real.backend, egogym.real.console\n"
            "t = egogym.tasks.make_task('object_in_bowl')\n"
            "import numpy as np\n"
            "e = t.sample_episode(np.random.default_rng(0))\n"
            "assert 'x=' in t.operator_instructions(e)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mujoco', 'dm_control')))")
    res = run_blocked(code, {"mujoco", "dm_control"})
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stderr[-2000:]


def test_import_egogym_is_light_and_registers_the_ids():
    code = ("import sys, egogym, gymnasium as gym\n"
            "assert 'egogym/ObjectInBowl-v0' in gym.registry and 'egogym/HandOver-v0' in gym.registry\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('mujoco', 'dm_control', 'torch', 'h5py'))\n"
            "print(heavy)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "[]"


def test_the_data_layer_refuses_nothing_it_needs_from_above():
    """The sim's data files are written by the pipelines, not the data layer: the data layer
    imports with the simulator, the env and torch all blocked."""
    code = "import egogym.data.schema, egogym.data.writer, egogym.data.reader, egogym.data.stats\nprint('ok')"
    res = run_blocked(code, {"mujoco", "dm_control", "torch"})
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
