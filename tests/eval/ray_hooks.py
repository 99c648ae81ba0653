"""Ray worker setup hook for tests/eval/test_ablate.py: the training stand-in inside Ray workers.

Training is replaced by creating the run folder (the policies package trains for real),
and a run folder's policy is the scripted expert."""
from pathlib import Path


def stand_in_training() -> None:
    import egogym.eval.ablation.runner as ablate
    import egogym.eval.rollout as loop
    from egogym.sim.experts import make_expert

    real_cli = ablate._cli

    def fake_cli(argv, step):
        if argv[0] == "train":
            out = Path(argv[argv.index("--out") + 1])
            out.mkdir(parents=True, exist_ok=True)
            (out / "trained_by_ray_worker").write_text(" ".join(argv))
            return
        real_cli(argv, step)

    ablate._cli = fake_cli
    loop.make_policy = lambda spec, env, device="cpu": make_expert(env)
