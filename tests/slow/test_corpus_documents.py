"""Every attachment of the third-party corpus, and broken PDFs, go through analyse_file without a crash."""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailbot.cases.documents import ACCEPTED_TYPES, FileAnalysis, analyse_file
from mailbot.domain.kinds import DEFAULT_KINDS
from mailbot.intake.parse import ParseError, parse_message
from tests.support.documents import (
    make_image_only_pdf,
    sample_request_letter,
    sample_sk,
)
from tests.support.paths import CORPUS

NIP = "197103112006041003"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")


@dataclass(frozen=True)
class Item:
    source: str  # corpus path of the message
    filename: str
    payload: bytes


class StrictHandler(logging.Handler):
    """Formats every record like a real log handler would and remembers any record that cannot be."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.count = 0
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.format(record).encode("utf-8", "backslashreplace")
            self.count += 1
        except Exception as exc:  # noqa: BLE001 - that is what we are looking for
            self.errors.append(f"{record.name}: {record.msg!r} % {record.args!r}: {type(exc).__name__}: {exc}")


@pytest.fixture
def strict_log() -> Iterator[StrictHandler]:
    """pypdf and mailbot log at DEBUG into a handler that formats every record (CLI code may have raised
    the pypdf level to ERROR in an earlier test; that is undone here for the test's duration)."""
    handler = StrictHandler()
    loggers = [logging.getLogger(name) for name in ("pypdf", "mailbot")]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(handler)
        lg.propagate = False  # keep the output of thousands of records out of the test report
    try:
        yield handler
    finally:
        for lg, (level, propagate) in zip(loggers, saved):
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate


def corpus_files() -> list[Path]:
    return sorted(path for path in CORPUS.rglob("*") if path.is_file()
                  and not path.name.startswith(".")
                  and not re.match(r"(README|LICEN[CS]E|COPYING|NOTICE)", path.name, re.IGNORECASE))


@pytest.fixture(scope="module")
def corpus_attachments() -> tuple[list[Item], float]:
    """All attachments of all parseable corpus messages, and the seconds parsing took."""
    start = time.monotonic()
    items: list[Item] = []
    mailparser_log = logging.getLogger("mailparser")
    level = mailparser_log.level
    mailparser_log.setLevel(logging.CRITICAL)  # it narrates every unusual part; not under test here
    try:
        for path in corpus_files():
            try:
                mail = parse_message(path.read_bytes())
            except ParseError:
                continue
            source = str(path.relative_to(CORPUS))
            items.extend(Item(source, a.filename, a.payload) for a in mail.attachments)
    finally:
        mailparser_log.setLevel(level)
    return items, time.monotonic() - start


def check(analysis: FileAnalysis) -> list[str]:
    """The invariants every analysis keeps; returns what is wrong."""
    wrong = []
    if not analysis.usable and not (isinstance(analysis.problem, str) and analysis.problem.strip()):
        wrong.append("unusable without a problem")
    if analysis.usable and analysis.file_type not in ACCEPTED_TYPES:
        wrong.append(f"usable but of type {analysis.file_type}")
    if not set(analysis.kinds) <= {k.name for k in DEFAULT_KINDS}:
        wrong.append(f"unknown kinds {analysis.kinds}")
    if not isinstance(analysis.text, str):
        wrong.append("text is not a str")
    return wrong


@needs_corpus
def test_every_corpus_attachment_is_analysed_without_error(
        corpus_attachments: tuple[list[Item], float], strict_log: StrictHandler) -> None:
    """Each attachment in ~1000 real-world messages gets a verdict; an unusable one always says why."""
    items, parse_seconds = corpus_attachments
    assert len(items) > 1000  # the corpus holds ~1100 attachments; far fewer means parsing regressed
    failures: list[str] = []
    types: dict[str, int] = {}
    start = time.monotonic()
    for item in items:
        where = f"{item.source} :: {item.filename!r}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a warning escaping analyse_file is a bug too
                analysis = analyse_file(item.filename, item.payload)
        except Exception as exc:  # noqa: BLE001 - collect them all for the report
            failures.append(f"{where}: {type(exc).__name__}: {exc}")
            continue
        failures.extend(f"{where}: {w}" for w in check(analysis))
        types[analysis.file_type] = types.get(analysis.file_type, 0) + 1
    elapsed = time.monotonic() - start

    assert not failures, "\n".join(failures[:30])
    assert not strict_log.errors, "\n".join(strict_log.errors[:30])
    # The corpus exercises every refusal path we care about, and some real PDFs and images.
    assert {"pdf", "png", "jpeg", "empty", "tnef", "zip", "unknown"} <= set(types), types
    print(f"\n{len(items)} attachments: parse {parse_seconds:.1f}s, analyse {elapsed:.1f}s, types {types}")


@needs_corpus
def test_corpus_pdfs_give_the_same_verdict_whatever_the_logging(
        corpus_attachments: tuple[list[Item], float], strict_log: StrictHandler) -> None:
    """pypdf logging at DEBUG (handled) or silenced must not change what a PDF is judged to be."""
    pdfs = [i for i in corpus_attachments[0] if b"%PDF-" in i.payload[:1024]]
    assert pdfs
    loud = [analyse_file(i.filename, i.payload) for i in pdfs]
    assert strict_log.count > 0  # the corpus PDFs do make pypdf talk
    strict_log.errors.clear()
    logging.getLogger("pypdf").setLevel(logging.CRITICAL + 1)
    quiet = [analyse_file(i.filename, i.payload) for i in pdfs]
    assert loud == quiet


def _mutations() -> dict[str, bytes]:
    """Broken PDFs of the kinds mail clients and scanners produce."""
    good = sample_request_letter("Budi Santoso", NIP)
    sk = sample_sk("Budi Santoso", NIP)
    eof = good.rindex(b"%%EOF")
    xref = good.rindex(b"startxref")
    return {
        "truncated_half": good[: len(good) // 2],
        "no_eof_marker": good[:eof],
        "no_trailer": good[:xref],
        "bad_startxref": good[:xref] + b"startxref\n999999\n%%EOF\n",
        "junk_startxref": good[:xref] + b"startxref\n%(n)d %s\n%%EOF\n",
        "percent_in_names": good.replace(b"/Helvetica", b"/Helv%(x)s%d%%"),
        "bad_length": re.sub(rb"/Length \d+", b"/Length 5", sk),
        "negative_length": re.sub(rb"/Length \d+", b"/Length -1", sk),
        "huge_count": good.replace(b"/Count 1", b"/Count 99999999"),
        "pages_loop": good.replace(b"/Parent 2 0 R", b"/Parent 6 0 R").replace(b"/Kids [6 0 R]", b"/Kids [2 0 R]"),
        "garbage_after_header": good[:9] + bytes(range(256)) * 4,
        "leading_junk": b"\x00\x01junk\r\n" + good,
        "header_only": b"%PDF-1.7\n",
        "image_truncated": make_image_only_pdf()[:-120],
        "nul_filled": good[:200] + b"\x00" * 2000,
    }


@pytest.mark.parametrize(("name", "data"), list(_mutations().items()), ids=list(_mutations()))
def test_broken_pdfs_are_judged_without_crash_or_logging_error(name: str, data: bytes,
                                                               strict_log: StrictHandler) -> None:
    """A damaged PDF is either read or refused with a reason, and pypdf's complaints log cleanly."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analysis = analyse_file("surat_permohonan.pdf", data)
    assert analysis.file_type == "pdf"
    assert check(analysis) == []
    assert not strict_log.errors, strict_log.errors
    # The name still tells the admin what the file was meant to be.
    assert "surat_permohonan" in analysis.kinds
