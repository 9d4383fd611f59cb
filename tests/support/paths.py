"""Where the test data lives: the hand-made fixtures beside the tests and the third-party corpus."""

from __future__ import annotations

import os
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures"
REPLIES = FIXTURES / "replies"
CORPUS = Path(os.environ.get("MAILBOT_CORPUS_DIR") or REPO.parent / "shared" / "corpus")

_NOT_MAIL = re.compile(r"(README|LICEN[CS]E|COPYING|NOTICE)", re.IGNORECASE)


def corpus_files() -> list[Path]:
    """All message files, without the READMEs, licences and dotfiles the corpus ships with."""
    if not CORPUS.is_dir():
        return []
    return sorted(path for path in CORPUS.rglob("*") if path.is_file()
                  and not path.name.startswith(".")
                  and not _NOT_MAIL.match(path.name))
