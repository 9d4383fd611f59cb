"""Hypothesis settings for every test run (registered as a pytest plugin by tests/conftest.py)."""

from __future__ import annotations

from hypothesis import settings as hypothesis_settings

# Property tests explore the same examples on every run: a red CI always means a real regression (a
# new random example found once would make main flaky); widen max_examples locally to search further.
hypothesis_settings.register_profile("mailbot", derandomize=True, database=None)
hypothesis_settings.load_profile("mailbot")
