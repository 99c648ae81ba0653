"""Ranges of every count, size and seed a command takes, in one place.

A typo such as `--episodes 1000000000000` must fail in a line before any work, not after the
command has built a list of that many entries and run out of memory with its output half
made. Each command checks its numbers here, either at parse time (`int_flag`, an argparse
`type=`) or where a config is built from code (`check_int`, `check_seeds`: an ablation or a
test builds configs without the command line), and both raise the same `UserError`:

    p.add_argument("--episodes", type=int_flag("--episodes", 1, MAX_EPISODES))
    check_seeds(args.seed, args.episodes)                 # seed .. seed + episodes - 1 valid

The limits are far above any real run and far below what would exhaust a machine.
"""
from __future__ import annotations

from typing import Callable

from egogym.core.errors import UserError

MAX_EPISODES = 1_000_000
"""Most episodes one command collects or evaluates (a million 10 s episodes is four months of
simulation): larger is a typo."""
MAX_STEPS = 1_000_000
"""Most env steps in one episode (5.5 hours at 50 Hz), and most training steps per flag."""
MAX_PICKS = 20
"""Most pick-and-places a simulated person does in a row in one recording (a minute of frames)."""
MAX_WORKERS = 256
"""Most worker processes or parallel jobs a command starts."""
MAX_SEED = 2**32 - 1
"""Largest seed: what NumPy's legacy `RandomState`, MuJoCo's and most simulators' seeds hold
(uint32). Gymnasium's `reset(seed)` refuses a negative one."""


def check_int(value, flag: str, lo: int, hi: int) -> int:
    """`value` as an int in lo..hi (inclusive); UserError naming `flag` and the range otherwise.
    Booleans and non-integral numbers are refused (True would pass as 1)."""
    text = value
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise UserError(f"{flag} {text}: give an integer in {lo}..{hi}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise UserError(f"{flag} {text!r}: give an integer in {lo}..{hi}")
    if not lo <= value <= hi:
        raise UserError(f"{flag} {value}: give an integer in {lo}..{hi}")
    return value


def check_float(value, flag: str, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> float:
    """`value` as a finite float in [lo, hi] (an open end when `lo_open` / `hi_open`); UserError
    naming `flag` otherwise (NaN and inf included)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = float("nan")
    ok = x == x and (x > lo if lo_open else x >= lo) and (x < hi if hi_open else x <= hi)
    if not ok:
        rng = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
        raise UserError(f"{flag} {value}: give a number in {rng}")
    return x


def check_seeds(seed, count: int = 1, flag: str = "--seed", count_flag: str = "--episodes") -> int:
    """`seed` as an int such that the seeds seed .. seed + count - 1 are all valid (0..MAX_SEED);
    UserError naming the flags otherwise."""
    seed = check_int(seed, flag, 0, MAX_SEED)
    if seed + count - 1 > MAX_SEED:
        raise UserError(f"{flag} {seed} with {count_flag} {count}: the last seed {seed + count - 1} exceeds "
                        f"{MAX_SEED}; give {flag} at most {MAX_SEED - count + 1}")
    return seed


def int_flag(flag: str, lo: int, hi: int) -> Callable[[str], int]:
    """An argparse `type=` that parses an int in lo..hi, raising `UserError` (one line, exit 2:
    the command line catches it around parsing) instead of argparse's usage text."""
    def parse(text: str) -> int:
        return check_int(text, flag, lo, hi)
    parse.__name__ = "int"  # argparse names the type in its own messages
    return parse


def float_flag(flag: str, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> Callable[[str], float]:
    """An argparse `type=` for a finite float in [lo, hi] (open ends as `check_float`)."""
    def parse(text: str) -> float:
        return check_float(text, flag, lo, hi, lo_open=lo_open, hi_open=hi_open)
    parse.__name__ = "float"
    return parse


def seed_flag(flag: str = "--seed") -> Callable[[str], int]:
    """An argparse `type=` for a seed in 0..MAX_SEED (the range with the count: `check_seeds`)."""
    return int_flag(flag, 0, MAX_SEED)
