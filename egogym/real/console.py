"""The operator console of real evaluations: scene resets and the person's score.

On hardware no code can tell whether the toy landed in the bowl; a person does, as in
EgoMimic's protocol. Before each episode the console shows the task's
`operator_instructions` for the episode the task drew from the seed (where the toy, the bowl
and any distractor go, in the world frame: the same placements a sim evaluation of the same
seeds meets) and waits until the scene is set up; after it, the operator
enters the points, success (or marks the episode aborted) and free-text notes. The
result is an `OperatorScore`, a `Score` carrying the notes, which `RealBackend.finish()`
returns and the evaluation loop writes into `episodes.jsonl` like a sim score.

`input_fn` and `print_fn` are injectable (tests script the answers). Typing `q` at the
scene prompt, or closing stdin, ends the run with `OperatorQuit` (a KeyboardInterrupt,
so the loop stops the way Ctrl-C stops it; finished episodes stay recorded and
`--resume` continues after them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from egogym.core.protocols import Score
from egogym.tasks import Task

MAX_TRIES = 20
"""Invalid answers in a row before the console gives up (a scripted input gone wrong)."""


class OperatorQuit(KeyboardInterrupt):
    """The operator ended the run at a prompt (or stdin closed)."""


@dataclass
class OperatorScore(Score):
    """A Score entered by the operator, with their notes (free text, `Score.notes`)."""


class OperatorConsole:
    """Prompts for scene resets and scores. All text goes through print_fn; answers come from input_fn."""

    def __init__(self, input_fn: Callable[[str], str] = input, print_fn: Callable[..., None] = print):
        self.input_fn, self.print_fn = input_fn, print_fn

    def _ask(self, prompt: str) -> str:
        try:
            return self.input_fn(prompt).strip()
        except EOFError:
            raise OperatorQuit("operator input closed (EOF): run stopped") from None

    def _ask_until(self, prompt: str, parse: Callable[[str], object], problem: str):
        for _ in range(MAX_TRIES):
            ans = self._ask(prompt)
            try:
                return parse(ans)
            except ValueError:
                self.print_fn(f"  {ans!r}: {problem}")
        raise OperatorQuit(f"{MAX_TRIES} invalid answers in a row to {prompt.strip()!r}: run stopped")

    def prepare(self, task: Task, episode: int, start=None) -> None:
        """Show the set-up of the episode `start` (the task's `sample_episode` draw) and the
        scoring rule; return when the operator says the scene is ready."""
        self.print_fn(f"\n=== episode {episode}: {task.name} ({task.time_limit_s:.0f} s) ===")
        self.print_fn(task.operator_instructions(start))

        def parse(ans: str) -> None:
            if ans.lower() in ("q", "quit"):
                raise OperatorQuit("operator quit the run at the scene prompt")
            if ans:
                raise ValueError(ans)

        self._ask_until("Scene ready? [Enter] to start, 'q' to end the run: ", parse,
                        "press Enter to start or type q to end the run")

    def score(self, task: Task, aborted: str | None, elapsed_s: float) -> OperatorScore:
        """Ask for the episode's result. A safety stop (aborted) stays aborted; the operator
        may also abort an episode ('a') with a reason."""
        if aborted is not None:
            self.print_fn(f"Episode stopped after {elapsed_s:.1f} s: {aborted}")
        else:
            self.print_fn(f"Episode over after {elapsed_s:.1f} s.")

        def parse_points(ans: str):
            if ans.lower() == "a":
                return "abort"
            n = int(ans)
            if n < 0:
                raise ValueError(ans)
            return n

        points = self._ask_until("Points scored (integer >= 0), or 'a' to mark the episode aborted: ",
                                 parse_points, "enter a whole number >= 0, or a")
        if points == "abort":
            why = self._ask("Why is it aborted? ") or "no reason given"
            notes = self._ask("Notes (optional): ")
            return OperatorScore(points=0, success=False, aborted=aborted or f"operator: {why}", notes=notes)

        def parse_yes_no(ans: str) -> bool:
            if ans.lower() in ("y", "yes"):
                return True
            if ans.lower() in ("n", "no"):
                return False
            raise ValueError(ans)

        success = self._ask_until("Success? [y/n]: ", parse_yes_no, "answer y or n")
        notes = self._ask("Notes (optional): ")
        return OperatorScore(points=int(points), success=bool(success), aborted=aborted, notes=notes)
