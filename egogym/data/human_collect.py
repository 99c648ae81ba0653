"""`egogym collect --embodiment human`: simulate, record and convert in one command.

The simulated human (`egogym.sim.human`) writes one Aria-style recording per episode
(episode i from seed S + i); the recordings then go through the very converter real
recordings use (`egogym.data.aria.convert`), so the sim exercises the real pipeline.
Recordings are kept under `--recordings DIR` if the collect command offers it (default:
`<out>.recordings/` next to the output file), so they can be converted again.
"""
from __future__ import annotations

import sys
from pathlib import Path

from egogym.cli import UserError


def collect_human(args) -> int:
    """Run the human collection described by `args` (the `egogym collect` namespace).

    Reads: episodes (int), seed (int), out (path), image_size ((H, W), optional),
    no_progress (bool, optional), resume (bool, optional), recordings (path, optional).
    Returns the exit code."""
    from egogym.data.aria import convert
    from egogym.sim.human import HumanConfig, HumanDemonstrator

    episodes = int(args.episodes)
    if episodes < 1:
        raise UserError(f"--episodes {episodes}: give at least 1")
    out = Path(args.out)
    seed = int(getattr(args, "seed", 0) or 0)
    size = tuple(getattr(args, "image_size", None) or (480, 640))
    progress = not getattr(args, "no_progress", False)
    rec_root = Path(getattr(args, "recordings", None) or out.with_name(out.name + ".recordings"))
    if out.exists() and not getattr(args, "resume", False):
        raise UserError(f"{out} exists: choose another --out, delete it, or pass --resume to append")
    try:
        config = HumanConfig(image_size=(int(size[0]), int(size[1])))
    except ValueError as e:
        raise UserError(str(e)) from None
    folders = []
    it = range(episodes)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="simulate human", unit="ep", file=sys.stderr)
    with HumanDemonstrator(config) as human:
        for i in it:
            folder = rec_root / f"episode_{seed + i:06d}"
            if not (folder / "recording.json").is_file():
                human.record_episode(seed + i, folder)
            folders.append(folder)
    if out.exists():  # --resume: convert only the episodes the file does not hold yet
        import h5py

        with h5py.File(out, "r") as f:
            done = {str(g.attrs.get("recording", "")) for g in f["data"].values()} if "data" in f else set()
        folders = [p for p in folders if str(p) not in done]
        if not folders:
            print(f"{out}: all {episodes} episode(s) already converted")
            return 0
    names = convert(folders, out, progress=progress, env_args={
        "source": "egogym collect --embodiment human", "task": "object_in_bowl", "seed": seed,
        "episodes": episodes, "recordings": str(rec_root), "image_size": list(config.image_size)})
    print(f"{out}: wrote {len(names)} human demo(s) from {episodes} simulated episode(s); recordings in {rec_root}")
    return 0
