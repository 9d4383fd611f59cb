"""The 204 real replies of ../shared/replies, with decisions planted the way a client would, read as the bot does.

The corpus is found at MAILBOT_REPLIES_DIR or ../shared/replies next to the repository; without it the
test is skipped, and fails under CI (env CI set). The harness is tests/support/reply_corpus.py.
"""

from __future__ import annotations

import os

import pytest

from tests.support.reply_corpus import CORPUS, Fixture, evaluate, load_corpus, table


def _corpus() -> list[Fixture]:
    if not CORPUS.is_dir():
        message = f"reply corpus not found at {CORPUS} (set MAILBOT_REPLIES_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return load_corpus(CORPUS)


def test_reply_corpus_decisions() -> None:
    """On every fixture: the planted SETUJU approves (refused only where the reply shares its line with the
    attribution, or sits below an unmarked quote header), a SETUJU in the quote never decides, a quoted
    Password: line is never the admin's option, the TOLAK reason is exactly the admin's, and the
    fixture's own reply is no decision."""
    fixtures = _corpus()
    assert len(fixtures) >= 200
    outcomes = [evaluate(fixture) for fixture in fixtures]
    print("\n" + table(outcomes))
    for outcome in outcomes:
        if outcome.exempt:
            print(f"refused as the safe reading ({outcome.exempt}): {outcome.fixture.source}/{outcome.fixture.id}")
    problems = [f"{o.fixture.source}/{o.fixture.id}: {o.detail}" for o in outcomes if o.detail]
    assert not problems, "\n".join(problems)
    assert sum(1 for o in outcomes if o.keyword is None) <= 1  # only the empty reply without a place (spam_1)
    assert sum(1 for o in outcomes if o.exempt) <= 8
    assert sum(1 for o in outcomes if o.quoted_password is not None) >= 175
