"""Recordings whose timestamps repeat, go backwards or are not numbers (issue 15): the
recording is refused with one line naming the file, the row and the column (a batch converts
the others), the conversion of nothing exits 2, no traceback,
and leaves the recording as it was (no half-written output either)."""
from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import pytest

from egogym.cli import main
from egogym.data import mps

pytest.importorskip("projectaria_tools", reason="reading Aria MPS outputs needs the aria extra: "
                    "pip install 'egogym[aria]'")


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _edit_csv(path: Path, column: str, edit) -> None:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    edit(rows, column)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _swap(rows, column, i=5):
    rows[i][column], rows[i + 1][column] = rows[i + 1][column], rows[i][column]


def _repeat(rows, column, i=5):
    rows[i + 1][column] = rows[i][column]


def _word(rows, column, i=5):
    rows[i][column] = "soon"


CASES = {
    "frames swapped": ("frames/timestamps.csv", "capture_timestamp_ns", _swap, "goes backwards) at row 7"),
    "frames repeated": ("frames/timestamps.csv", "capture_timestamp_ns", _repeat, "repeats a value) at row 7"),
    "frames not a number": ("frames/timestamps.csv", "capture_timestamp_ns", _word, "row 6: 'frame_index' and"),
    "hands swapped": (f"mps/hand_tracking/{mps.WRIST_PALM_FILE}", "tracking_timestamp_us", _swap,
                      "goes backwards) at row 7"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_timestamps_stop_the_conversion_with_one_line(case, sim_recordings, tmp_path, capsys):
    rel, column, edit, needle = CASES[case]
    rec = tmp_path / "rec"
    shutil.copytree(sim_recordings[0], rec)
    _edit_csv(rec / rel, column, edit)
    before = _digest(rec)
    out = tmp_path / "human.hdf5"
    assert main(["convert", "aria", str(rec), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    # one line for the recording (a batch goes on with the others), one for the outcome
    assert "Traceback" not in err
    skipped, outcome = err.splitlines()
    assert str(rec / rel) in skipped and needle in skipped, skipped
    assert outcome == "egogym convert: error: no recording converted (1 given); see the lines above"
    if "not a number" not in case:
        assert f"'{column}'" in err
    assert _digest(rec) == before
    assert not out.exists()
