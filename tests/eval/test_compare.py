"""Sim-vs-real agreement: Pearson r and MMRV on synthetic records with known answers."""
import json
import math

import pytest

from egogym.cli import main
from egogym.core.errors import UserError
from egogym.eval.compare import compare, mmrv, pearson_r


def test_mmrv_known_values():
    assert mmrv([0.1, 0.5, 0.9], [0.2, 0.4, 0.8]) == 0.0  # same order
    # sim swaps policies 1 and 2 whose real rates differ by 0.1; each of the two has max violation 0.1
    assert mmrv([0.1, 0.9, 0.5], [0.2, 0.4, 0.5]) == pytest.approx((0 + 0.1 + 0.1) / 3)
    # fully reversed: row maxima 0.8, 0.4 (|0.6-0.2| vs |0.6-1.0|: max 0.4), 0.8
    assert mmrv([0.9, 0.5, 0.1], [0.2, 0.6, 1.0]) == pytest.approx((0.8 + 0.4 + 0.8) / 3)


def test_mmrv_ties_count_only_strict_order():
    # sim ties a pair the real robot separates: for (i=0, j=1) (s0<s1) is False and (r0<r1) True -> RV = 0.4;
    # for (i=1, j=0) both comparisons are False -> no violation. Row maxima 0.4 and 0: MMRV 0.2.
    assert mmrv([0.5, 0.5], [0.3, 0.7]) == pytest.approx(0.2)
    assert mmrv([0.3, 0.7], [0.5, 0.5]) == 0.0  # real tie: the violation costs |0.5-0.5| = 0


def test_pearson():
    assert pearson_r([0.1, 0.5, 0.9], [0.2, 0.4, 0.8]) == pytest.approx(
        (-0.4 * -0.2667 + 0 + 0.4 * 0.3333) / math.sqrt(0.32 * (0.0711 + 0.0044 + 0.1111)), rel=1e-3)
    assert pearson_r([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson_r([1, 2], [1, 2]) is None
    assert pearson_r([1, 1, 1], [1, 2, 3]) is None


def _write(root, name, outcomes, points=None):
    d = root / name
    d.mkdir(parents=True)
    with open(d / "episodes.jsonl", "w") as f:
        for i, s in enumerate(outcomes):
            f.write(json.dumps({"seed": 1000 + i, "episode": i, "success": bool(s),
                                "points": points[i] if points else int(s), "steps": 2000, "sim_seconds": 40.0,
                                "wall_seconds": 1.0, "status": "done", "reason": "time limit"}) + "\n")


def test_compare_folders(tmp_path, capsys):
    sim, real = tmp_path / "sim", tmp_path / "real"
    # success rates: sim a=0.2 b=0.6 c=0.8, real a=0.1 b=0.5 c=0.4 (b and c swapped)
    _write(sim, "a", [1] * 2 + [0] * 8)
    _write(sim, "b", [1] * 6 + [0] * 4)
    _write(sim, "c", [1] * 8 + [0] * 2)
    _write(real, "a", [1] * 1 + [0] * 9)
    _write(real, "b", [1] * 5 + [0] * 5)
    _write(real, "c", [1] * 4 + [0] * 6)
    _write(sim, "only_sim", [1])
    res = compare(sim, real)
    assert [p["policy"] for p in res["policies"]] == ["a", "b", "c"]
    assert res["mmrv"] == pytest.approx((0 + 0.1 + 0.1) / 3)
    assert res["pearson_r"] == pytest.approx(pearson_r([0.2, 0.6, 0.8], [0.1, 0.5, 0.4]))
    assert res["only_in_sim"] == ["only_sim"]
    out = tmp_path / "cmp.json"
    assert main(["compare", str(sim), str(real), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "MMRV: 0.067" in printed and json.loads(out.read_text())["mmrv"] == pytest.approx(res["mmrv"])


def test_compare_needs_shared_policies(tmp_path, capsys):
    _write(tmp_path / "sim", "a", [1])
    _write(tmp_path / "real", "b", [1])
    with pytest.raises(UserError, match="share 0 evaluated policies"):
        compare(tmp_path / "sim", tmp_path / "real")
    assert main(["compare", str(tmp_path / "sim"), str(tmp_path / "nope")]) == 2
    assert "REAL_EVALS" in capsys.readouterr().err
