"""Every message of the third-party corpus, APPENDed to a real IMAP inbox, ends as a case,
a follow-up, ignored (with a reason), a duplicate, or quarantined (with a reason) — never a crash."""

from __future__ import annotations

import mailbox
import re
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError
from sqlalchemy import select

from mailbot.admin.views import quarantine_list
from mailbot.cases.notify import deliverable_address
from mailbot.domain.results import PollResult
from mailbot.runner import poll_once
from mailbot.store.models import Case, InboundMessage
from tests.support.bot import Bot
from tests.support.paths import CORPUS
from tests.support.servers import imap_connect

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")

_NOT_MAIL = re.compile(r"(README|LICEN[CS]E|COPYING|NOTICE)", re.IGNORECASE)  # as in paths.corpus_files


@dataclass
class Delivery:
    """What was handed to the IMAP server, and what it refused."""

    appended: int = 0
    not_deliverable: list[str] = field(default_factory=list)          # 0-byte files: IMAP cannot APPEND
    rejected: list[tuple[str, str]] = field(default_factory=list)     # (source, server's message)
    by_uid: dict[int, str] = field(default_factory=dict)              # UID (APPENDUID) -> source

    def source(self, uid: int) -> str:
        return self.by_uid.get(uid, f"UID {uid}")


def corpus_messages() -> list[tuple[str, bytes]]:
    """(source label, raw bytes) for every message in the corpus; mbox files are split into messages."""
    out: list[tuple[str, bytes]] = []
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        if path.name.startswith(".") or _NOT_MAIL.match(path.name):
            continue
        rel = str(path.relative_to(CORPUS))
        raw = path.read_bytes()
        if raw.startswith(b"From ") and re.search(rb"\n\r?\nFrom ", raw):
            box = mailbox.mbox(str(path), create=False)
            try:
                for i, key in enumerate(box.iterkeys()):
                    out.append((f"{rel}#{i + 1}", box.get_bytes(key)))
            finally:
                box.close()
        else:
            out.append((rel, raw))
    return out


def deliver(bot: Bot, messages: list[tuple[str, bytes]]) -> Delivery:
    """APPEND every message over one connection (a new one only if the server dropped it)."""
    d = Delivery()
    pending = list(messages)
    while pending:
        with imap_connect(bot.imap, timeout=60) as client:
            while pending:
                source, raw = pending[0]
                if not raw:
                    d.not_deliverable.append(source)
                    pending.pop(0)
                    continue
                try:
                    answer = client.append("INBOX", raw)
                except IMAPClientAbortError as exc:  # the connection is gone: reconnect for the rest
                    d.rejected.append((source, str(exc)[:200]))
                    pending.pop(0)
                    break
                except IMAPClientError as exc:  # the server refused this one message
                    d.rejected.append((source, str(exc)[:200]))
                    pending.pop(0)
                    continue
                d.appended += 1
                m = re.search(rb"APPENDUID \d+ (\d+)", answer or b"")
                d.by_uid[int(m.group(1)) if m else d.appended] = source
                pending.pop(0)
    return d


def outcome(row: InboundMessage) -> str:
    if row.status == "processed":
        return {"request": "case (new request)", "followup": "follow-up"}.get(row.kind, f"processed/{row.kind}")
    if row.status == "ignored":
        return f"ignored ({row.kind})"
    return row.status


# ~1100 messages: 60-100 s on a loaded 2-CPU machine (APPEND ~20 s, polls ~50 s), hence slow.
@needs_corpus
def test_every_corpus_message_ends_accounted_for(any_bot: Bot) -> None:
    """Scenario: the whole third-party corpus lands in the inbox; polls run until nothing is left."""
    bot = any_bot
    started = time.monotonic()
    d = deliver(bot, corpus_messages())
    appended_at = time.monotonic()

    polls: list[PollResult] = []
    while True:
        result = poll_once(bot.app)
        polls.append(result)
        if result.fetched == 0 and result.processed + result.ignored + result.quarantined + result.moved == 0:
            break
        assert len(polls) <= bot.app.settings.limits.max_attempts + 3, \
            f"polls keep finding work: {[p.summary() for p in polls]}"
    done_at = time.monotonic()

    errors = [e for p in polls for e in p.errors]
    with bot.app.factory() as s:
        rows = s.scalars(select(InboundMessage).order_by(InboundMessage.uid)).all()
        case_ids = set(s.scalars(select(Case.id)))
        unanswerable = sorted(a for a in s.scalars(select(Case.sender)) if deliverable_address(a) != a)
        outcomes = Counter(outcome(r) for r in rows)
        by_reason = Counter((r.status, re.sub(r"\d+", "N", r.reason.split(":")[0])[:60]) for r in rows
                            if r.status in ("ignored", "quarantined", "duplicate"))
        no_reason = [(d.source(r.uid), r.status) for r in rows
                     if r.status in ("ignored", "quarantined", "duplicate") and not r.reason.strip()]
        orphans = [(r.uid, r.kind) for r in rows if r.status == "processed" and r.case_id not in case_ids]
        after_errors = [(d.source(r.uid), r.reason[:160])
                        for r in rows if r.status == "quarantined" and r.reason.startswith("failed ")]
        still_new = [r.uid for r in rows if r.status == "new"]
        quarantined_ids = {r.id for r in rows if r.status == "quarantined"}
        # Same Message-ID as an earlier message but other bytes: each is handled on its own.
        first_sha: dict[str, str] = {}
        reused_id = Counter()
        for r in rows:
            if r.message_id and first_sha.setdefault(r.message_id, r.sha256) != r.sha256:
                reused_id[outcome(r)] += 1
    listed = {q["id"] for q in quarantine_list(bot.app)}
    inbox = bot.uids("INBOX")

    width = max(len(k) for k in list(outcomes) + ["not deliverable (0 bytes)"]) + 2
    lines = [f"corpus intake on {bot.imap.kind}: {d.appended + len(d.rejected) + len(d.not_deliverable)} "
             f"messages; APPEND {appended_at - started:.1f}s, {len(polls)} polls {done_at - appended_at:.1f}s",
             *(f"  {k:<{width}}{v:5d}" for k, v in sorted(outcomes.items())),
             f"  {'not deliverable (0 bytes)':<{width}}{len(d.not_deliverable):5d}",
             f"  {'rejected by the server':<{width}}{len(d.rejected):5d}",
             "  reasons:", *(f"    {n:4d}  {st}: {why}" for (st, why), n in by_reason.most_common()),
             "  same Message-ID as an earlier message, other bytes: "
             + (", ".join(f"{k} {v}" for k, v in sorted(reused_id.items())) or "none"),
             f"  cases whose sender cannot be written to: {len(unanswerable)} {unanswerable}",
             *(f"  rejected {src}: {msg}" for src, msg in d.rejected),
             *(f"  poll error: {e}" for e in errors),
             *(f"  quarantined after processing errors {src}: {why}" for src, why in after_errors)]
    summary = "\n".join(lines)
    print("\n" + summary)

    assert len(rows) == d.appended, summary           # one row per APPENDed message, none lost
    assert [r.uid for r in rows] == sorted(set(r.uid for r in rows)), summary
    allowed = {"case (new request)", "follow-up", "ignored (automatic)", "ignored (refused)", "duplicate",
               "quarantined", "not_a_request"}
    assert set(outcomes) <= allowed, summary
    assert errors == [], summary
    assert still_new == [], summary
    assert no_reason == [], summary
    assert orphans == [], summary
    assert quarantined_ids == listed, summary
    assert inbox == [], summary
