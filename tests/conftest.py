"""Hypothesis runs the same examples on every run of the README's test command (`derandomize`),
so a property that fails fails here and in CI alike, never by the luck of a draw.
`HYPOTHESIS_PROFILE=explore pytest ...` searches with fresh random examples (and more of them)."""
import os

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
