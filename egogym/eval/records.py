"""The episode log: `episodes.jsonl`, one JSON record per finished episode.

A record is appended (flushed and fsync'd) the moment its episode ends, so a killed
evaluation loses at most the episodes that were still running. A process killed while
writing can leave a torn last line (no trailing newline); `read_records` drops it and
`truncate_to` cuts it off before new records are appended, so `--resume` never repeats
or loses a finished episode.

Record fields (all always present):
- `seed` (int): the `reset(seed=...)` of the episode (episode i uses start_seed + i);
- `episode` (int): i, the index of the episode in the evaluation;
- `success` (bool), `points` (int): the final Score (`env.unwrapped.finish_episode()`);
- `steps` (int): env control steps taken;
- `sim_seconds` (float): the backend's clock at the end (simulated s in sim, wall s on hardware);
- `wall_seconds` (float): wall-clock time of the episode on the worker (the only field
  that depends on the machine and on `--workers`);
- `status`: "done" (ran to its end: time limit, or ended by the env without an abort),
  "aborted" (the backend or the operator aborted it), "timeout" (the wall-clock limit
  `--episode-timeout` stopped it early);
- `reason` (str): why it ended, in words.

Optional fields (written when the record has them): `notes` (str), the operator's notes
of a real episode; `start` (dict), the episode's start placement from the reset info
(`info["start"]`, see `EgoEnv`; for ObjectInBowl in sim {"toy", "toy_xy" [x, y] m,
"toy_yaw" rad, "bowl_xy" [x, y] m}, world frame), written when non-empty. `start` is
determined by the seed, so it too does not depend on `--workers`. Logs written before
`start` existed lack it: readers must treat it as not recorded. `query_latency_ms` (dict),
for a remote policy (`--policy ws://...`): the episode's query round trips in ms, {"n"
queries, "mean", "p50", "p95", "max"} and "server_infer_mean" (the server's own inference
time) when the server reports it; machine-dependent, like `wall_seconds`. An episode whose
policy server was lost or did not answer within its timeout has status "aborted" and the
reason "policy unavailable at step N: ...".
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from egogym.core.errors import UserError

RECORD_FIELDS = ("seed", "episode", "success", "points", "steps", "sim_seconds", "wall_seconds", "status", "reason")
STATUSES = ("done", "aborted", "timeout")
OPTIONAL_FIELDS = ("notes", "start", "query_latency_ms")
MACHINE_FIELDS = ("wall_seconds", "query_latency_ms")
"""Fields that legitimately differ between two runs of the same evaluation."""


def validate_record(rec: dict, where: str) -> dict:
    """Check a record's fields and types; raise UserError naming `where` on a problem."""
    missing = [k for k in RECORD_FIELDS if k not in rec]
    if missing:
        raise UserError(f"{where}: record lacks {missing}; this file was not written by `egogym eval`")
    if rec["status"] not in STATUSES:
        raise UserError(f"{where}: status {rec['status']!r} is not one of {STATUSES}")
    if not isinstance(rec["seed"], int) or not isinstance(rec["success"], bool):
        raise UserError(f"{where}: seed must be an int and success a bool")
    if "notes" in rec and not isinstance(rec["notes"], str):
        raise UserError(f"{where}: notes must be a string")
    if "start" in rec and not isinstance(rec["start"], dict):
        raise UserError(f"{where}: start must be a JSON object (the episode's start placement)")
    if "query_latency_ms" in rec and not isinstance(rec["query_latency_ms"], dict):
        raise UserError(f"{where}: query_latency_ms must be a JSON object (n, mean, p50, p95, max)")
    return rec


def _line(rec: dict) -> bytes:
    """One log line: the record's fields in RECORD_FIELDS order, then the optional ones it has."""
    keys = RECORD_FIELDS + tuple(k for k in OPTIONAL_FIELDS if k in rec)
    return (json.dumps({k: rec[k] for k in keys}) + "\n").encode()


def read_records(path: str | Path) -> tuple[list[dict], int]:
    """Records of an episode log and the byte length of its intact prefix.

    A last line without its newline (a write cut by a kill) is not a record and is left
    out of the prefix; any other unreadable line is an error naming the file and line.
    A missing file gives ([], 0)."""
    path = Path(path)
    if not path.exists():
        return [], 0
    data = path.read_bytes()
    records, offset, seen = [], 0, set()
    for lineno, line in enumerate(data.splitlines(keepends=True), start=1):
        if not line.endswith(b"\n"):
            break  # torn tail: the episode was not recorded, it will run again
        text = line.strip()
        if text:
            try:
                rec = json.loads(text)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{lineno}: not a JSON record ({e.msg}); fix or remove the line") from None
            validate_record(rec, f"{path}:{lineno}")
            if rec["seed"] in seen:
                raise UserError(f"{path}:{lineno}: seed {rec['seed']} is recorded twice; remove one of the lines")
            seen.add(rec["seed"])
            records.append(rec)
        offset += len(line)
    return records, offset


def truncate_to(path: str | Path, length: int) -> None:
    """Cut a torn tail off the log (keep the first `length` bytes)."""
    path = Path(path)
    if path.exists() and path.stat().st_size != length:
        with open(path, "r+b") as f:
            f.truncate(length)
            f.flush()
            os.fsync(f.fileno())


class RecordWriter:
    """Appends records to an episode log, each one flushed and fsync'd before `append` returns."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._f = open(self.path, "ab")

    def append(self, rec: dict) -> None:
        validate_record(rec, str(self.path))
        self._f.write(_line(rec))
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "RecordWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def rewrite_sorted(path: str | Path, records: Iterable[dict]) -> None:
    """Replace the log by the same records in seed order, atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "wb") as f:
        for rec in sorted(records, key=lambda r: r["seed"]):
            f.write(_line(rec))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def comparable(records: Iterable[dict]) -> list[dict]:
    """Records in seed order without the machine-dependent fields, optional fields included
    when present (for equality checks)."""
    keys = tuple(k for k in RECORD_FIELDS + OPTIONAL_FIELDS if k not in MACHINE_FIELDS)
    return [{k: r[k] for k in keys if k in r} for r in sorted(records, key=lambda r: r["seed"])]
