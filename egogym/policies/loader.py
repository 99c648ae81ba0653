"""Each training step's samples read by DataLoader worker processes (`egogym train --workers N`).

The unit of work is one *step* of one domain: item `step` of `StepBatches` is that step's
collated raw samples, `collate([ds[sample_map[i]] for i in plan.indices(step)])`, exactly
what `Trainer` reads in-process with `--workers 0` (`step_samples`, the one function both
paths call). `BatchPlan` already makes the sample indices a pure function of (seed, domain,
step, world, rank), so an item depends on nothing but its step:

- `StepLoader` hands a DataLoader the steps start..stop-1 as its sampler (`batch_size=None`:
  one item = one step's batch); DataLoader returns map-style items in sampler order whatever
  the number of workers, so step k is step k for any N, for any DDP rank (its plan holds the
  rank's slice), and a run resumed at step k asks for k, k+1, ... like an uninterrupted one.
- Nothing random happens in a worker (the CVAE noise, jitter and shifts are drawn by the
  trainer from `step_generator`), so workers need no seeding.

Workers are started with the "spawn" (or "forkserver") context, never "fork": the parent
may have MuJoCo / EGL or CUDA loaded. They receive the dataset by pickling; `EgoDataset`
drops its HDF5 handle when pickled and reopens the file in the process that reads it (a
pid check), so each worker opens its own handle after it starts. DataLoader converts each
item's numeric arrays to tensors in the worker (`default_convert`; the demo names stay a
numpy string array) and, with `pin_memory` (pass `device.type == "cuda"`), copies them
into page-locked memory so the trainer's `.to(device, non_blocking=True)` is asynchronous.
The values are the in-process ones bit for bit (tests/policies/test_loader.py).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from egogym.policies.batch import BatchPlan, collate

CONTEXTS = ("spawn", "forkserver")


def step_samples(ds, sample_map: np.ndarray, plan: BatchPlan, step: int) -> dict:
    """This rank's collated raw samples of `step` (numpy, `batch.collate`'s layout)."""
    return collate([ds[int(sample_map[i])] for i in plan.indices(step)])


class StepBatches(Dataset):
    """Map-style dataset over training steps: item `step` = `step_samples(ds, sample_map, plan, step)`.

    ds: an `EgoDataset` (or anything indexable with its sample layout, picklable);
    sample_map: stream position -> dataset index (`Trainer._sample_map`); plan: the domain's
    `BatchPlan` (this rank's)."""

    def __init__(self, ds, sample_map: np.ndarray, plan: BatchPlan):
        self.ds, self.sample_map, self.plan = ds, np.asarray(sample_map, dtype=np.int64), plan

    def __getitem__(self, step: int) -> dict:
        return step_samples(self.ds, self.sample_map, self.plan, int(step))


class StepLoader:
    """One domain's per-step samples from `workers` DataLoader processes, for steps up to `stop`.

    `samples(step)` returns step's batch; called with consecutive steps it walks one
    DataLoader pass over start..stop-1 (workers read up to `prefetch_factor` steps each
    ahead); any other step (the first call, a jump) starts a new pass there. The workers
    stop after the last step is handed out, or on `close()`.

    Items come back as `StepBatches` items with numeric arrays as (pinned, if `pin_memory`)
    CPU tensors and the demo names as a numpy string array."""

    def __init__(self, ds, sample_map: np.ndarray, plan: BatchPlan, stop: int, workers: int,
                 pin_memory: bool = False, prefetch_factor: int = 2, persistent_workers: bool = True,
                 context: str = "spawn"):
        if workers < 1:
            raise ValueError(f"workers={workers}: a StepLoader needs at least one worker (0 reads in-process)")
        if context not in CONTEXTS:
            raise ValueError(f"context={context!r}: use one of {CONTEXTS} (never 'fork': MuJoCo/EGL or CUDA "
                             f"may be loaded in the parent)")
        self.dataset = StepBatches(ds, sample_map, plan)
        self.stop, self.workers, self.pin_memory = int(stop), int(workers), bool(pin_memory)
        self.prefetch_factor, self.persistent_workers, self.context = prefetch_factor, persistent_workers, context
        self._loader: DataLoader | None = None
        self._it = None
        self._next: int | None = None

    def _open(self, start: int) -> None:
        self.close()
        if not 0 <= start < self.stop:
            raise IndexError(f"step {start} outside 0..{self.stop - 1}")
        self._loader = DataLoader(self.dataset, batch_size=None, sampler=range(start, self.stop), shuffle=False,
                                  num_workers=self.workers, pin_memory=self.pin_memory,
                                  prefetch_factor=self.prefetch_factor, persistent_workers=self.persistent_workers,
                                  multiprocessing_context=torch.multiprocessing.get_context(self.context))
        self._it = iter(self._loader)
        self._next = start

    def samples(self, step: int) -> dict:
        step = int(step)
        if self._it is None or step != self._next:
            self._open(step)
        batch = next(self._it)
        self._next = step + 1
        if self._next >= self.stop:
            self.close()
        return batch

    def close(self) -> None:
        """Stop the workers (a later `samples` call starts new ones)."""
        it, self._it, self._loader, self._next = self._it, None, None, None
        if it is not None and hasattr(it, "_shutdown_workers"):
            it._shutdown_workers()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
