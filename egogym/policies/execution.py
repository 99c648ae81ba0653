"""How a predicted chunk becomes one command per step: objects of their own.

Both objects work in chunk points (the 100 points of a chunk are `chunk_stride_steps`
control steps apart, 2 at 50 Hz, i.e. EgoMimic's 25 Hz). The Policy asks
`needs_query()` before each chunk point, gives a fresh chunk with `add(chunk)` when
asked, then takes `next()`; `reset()` forgets everything.

- `FirstKExecutor(k)`: query every k points; play the first k points of each chunk
  (EgoMimic: k=25, a query once a second at 25 Hz).
- `TemporalEnsembler(m, chunk)`: query at every point; the command at time t averages
  the predictions for t of every chunk still covering t (at most `chunk` of them),
  weighted w_i = exp(-m * i) with i = 0 the oldest chunk (ACT's temporal ensembling).
"""
from __future__ import annotations

from collections import deque

import numpy as np

from egogym.policies.config import Execution, FirstK, TemporalEnsemble


class FirstKExecutor:
    """Play the first k points of each chunk, then ask for a new one."""

    def __init__(self, k: int):
        self.k = int(k)
        self._queue: deque[np.ndarray] = deque()

    def reset(self) -> None:
        self._queue.clear()

    def needs_query(self) -> bool:
        return not self._queue

    def add(self, chunk: np.ndarray) -> None:
        """chunk: (P, D) predicted points, P >= k."""
        chunk = np.asarray(chunk)
        if chunk.shape[0] < self.k:
            raise ValueError(f"chunk of {chunk.shape[0]} points is shorter than k={self.k}")
        self._queue.extend(chunk[: self.k])

    def next(self) -> np.ndarray:
        if not self._queue:
            raise RuntimeError("FirstKExecutor.next() with an empty queue: add a chunk first")
        return self._queue.popleft()


class TemporalEnsembler:
    """Exponentially weighted average of every chunk's prediction for the current point.

    With chunks c_0, ..., c_n added at points 0, ..., n (c_j predicts points j .. j+P-1),
    the command at point t is

        a_t = sum_{j in J_t} w(t - j) c_j[t - j] / sum_{j in J_t} w(t - j)

    over J_t = {j : t - P < j <= t}, where the oldest chunk in the window gets weight
    exp(-m * 0) = 1 and each newer one exp(-m * i), i counting from the oldest. Because
    the weights are relative to the oldest chunk in the window, the sum is kept
    explicitly over a window of at most P chunks (cost O(P * D) per step).
    """

    def __init__(self, m: float, chunk: int):
        self.m, self.chunk = float(m), int(chunk)
        self._chunks: deque[tuple[int, np.ndarray]] = deque()  # (point at which it was added, (P, D))
        self._t = 0

    def reset(self) -> None:
        self._chunks.clear()
        self._t = 0

    def needs_query(self) -> bool:
        return not self._chunks or self._chunks[-1][0] < self._t

    def add(self, chunk: np.ndarray) -> None:
        chunk = np.asarray(chunk, dtype=float)
        if chunk.shape[0] != self.chunk:
            raise ValueError(f"chunk of {chunk.shape[0]} points; this ensembler was built for {self.chunk}")
        self._chunks.append((self._t, chunk))
        while self._chunks and self._chunks[0][0] <= self._t - self.chunk:
            self._chunks.popleft()

    def next(self) -> np.ndarray:
        if not self._chunks:
            raise RuntimeError("TemporalEnsembler.next() before any chunk was added")
        t = self._t
        live = [(j, c) for j, c in self._chunks if t - j < self.chunk]
        w = np.exp(-self.m * np.arange(len(live)))
        preds = np.stack([c[t - j] for j, c in live])
        self._t += 1
        return (w[:, None] * preds).sum(0) / w.sum()


def make_executor(execution: Execution, chunk: int) -> FirstKExecutor | TemporalEnsembler:
    """The executor object for a config's execution choice."""
    if isinstance(execution, FirstK):
        return FirstKExecutor(execution.k)
    if isinstance(execution, TemporalEnsemble):
        return TemporalEnsembler(execution.m, chunk)
    raise TypeError(f"unknown execution {execution!r}")
