"""The episode log: torn tails, duplicates, sorted rewrite."""
import json

import pytest

from egogym.core.errors import UserError
from egogym.eval.records import RecordWriter, comparable, read_records, rewrite_sorted, truncate_to


def rec(seed, **kw):
    return {"seed": seed, "episode": seed - 100, "success": True, "points": 2, "steps": 10, "sim_seconds": 0.2,
            "wall_seconds": 0.5, "status": "done", "reason": "time limit (10 steps)", **kw}


def test_torn_tail_is_dropped_and_cut(tmp_path):
    log = tmp_path / "episodes.jsonl"
    with RecordWriter(log) as w:
        w.append(rec(101))
        w.append(rec(100))
    intact = log.stat().st_size
    with open(log, "ab") as f:
        f.write(b'{"seed": 102, "episode": 2, "succ')  # a write cut by SIGKILL
    records, length = read_records(log)
    assert [r["seed"] for r in records] == [101, 100] and length == intact
    truncate_to(log, length)
    with RecordWriter(log) as w:
        w.append(rec(102))
    assert [r["seed"] for r in read_records(log)[0]] == [101, 100, 102]
    rewrite_sorted(log, read_records(log)[0])
    assert [json.loads(line)["seed"] for line in log.read_text().splitlines()] == [100, 101, 102]


def test_bad_lines_are_named(tmp_path):
    log = tmp_path / "episodes.jsonl"
    log.write_text(json.dumps(rec(100)) + "\nnot json\n")
    with pytest.raises(UserError, match=r"episodes.jsonl:2: not a JSON record"):
        read_records(log)
    log.write_text(json.dumps(rec(100)) + "\n" + json.dumps(rec(100)) + "\n")
    with pytest.raises(UserError, match="seed 100 is recorded twice"):
        read_records(log)
    log.write_text(json.dumps(rec(100, status="crashed")) + "\n")
    with pytest.raises(UserError, match="status 'crashed'"):
        read_records(log)
    assert read_records(tmp_path / "missing.jsonl") == ([], 0)


def test_comparable_drops_wall_time_only():
    a, b = [rec(101), rec(100)], [rec(100, wall_seconds=9.0), rec(101, wall_seconds=3.0)]
    assert comparable(a) == comparable(b)
    assert comparable(a) != comparable([rec(100), rec(101, points=3)])


def test_start_is_kept_validated_and_compared(tmp_path):
    log = tmp_path / "episodes.jsonl"
    start = {"toy": "cube", "toy_xy": [0.1, -0.25], "toy_yaw": 0.5, "bowl_xy": [0.2, -0.1]}
    with RecordWriter(log) as w:
        w.append(rec(101, start=start))
        w.append(rec(100))  # a record without a start (e.g. the real robot)
    rewrite_sorted(log, read_records(log)[0])
    back, _ = read_records(log)
    assert [r["seed"] for r in back] == [100, 101]
    assert "start" not in back[0] and back[1]["start"] == start
    assert comparable(back) != comparable([rec(100), rec(101, start={**start, "toy_xy": [0.1, -0.1]})])
    log.write_text(json.dumps(rec(100, start=[0.1, 0.2])) + "\n")
    with pytest.raises(UserError, match="start must be a JSON object"):
        read_records(log)
