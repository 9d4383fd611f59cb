"""`mailbot poll` killed with SIGKILL at random moments over a backlog loses nothing and
duplicates nothing — on a real IMAP server (Dovecot when installed, else pymap) and a real SMTP server.

Sizes are tunable: MAILBOT_CHAOS_MESSAGES (backlog, default 50; if it is all done before the kills are,
a further wave of the same size is appended), MAILBOT_CHAOS_KILLS (default 10),
MAILBOT_CHAOS_SEED (default 20260505).
"""

from __future__ import annotations

import email
import email.policy
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailbot.demo.servers import ReceivedMail
from mailbot.store.models import Case, InboundMessage, Outbox
from tests.support.bot import Bot, make_bot
from tests.support.documents import sample_request_letter, sample_sk
from tests.support.mails import ADMIN, request_email
from tests.support.servers import FaultySmtp, fastest_imap, imap_connect

MESSAGES = int(os.environ.get("MAILBOT_CHAOS_MESSAGES") or 50)
KILLS = int(os.environ.get("MAILBOT_CHAOS_KILLS") or 10)
SEED = int(os.environ.get("MAILBOT_CHAOS_SEED") or 20260505)
# A poll that has not finished after this long is stuck, not slow: fail instead of hanging CI.
POLL_TIMEOUT = 120.0
RECONCILED_RE = re.compile(r"outbox (\d+) \((\w+)\) was being sent when the process stopped; "
                           r"resending with the same Message-ID (<[^>]+>)")
SUMMARY_RE = re.compile(r"fetched=(\d+) processed=(\d+) ignored=(\d+) duplicates=(\d+) quarantined=(\d+) "
                        r"moved=(\d+) timers=(\d+) sent=(\d+) retried=(\d+) failed=(\d+)")


@pytest.fixture
def chaos_bot(tmp_path: Path, request: pytest.FixtureRequest, sqlite_url: str,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    imap = fastest_imap(request)
    # A server that takes a moment per message, like a real MTA: kills then also land mid-send.
    smtp = FaultySmtp(data_delay=0.05)
    smtp.start()
    b = make_bot(tmp_path, imap, smtp, sqlite_url, monkeypatch)
    # Kills land at random in every phase, so one message may be in flight for several of them: that is
    # not a message that kills the process (tests/integration/test_reliability.py covers that), so the
    # quarantine after repeated attempts is set out of reach here.
    with open(b.workdir / "mailbot.toml", "a", encoding="utf-8") as cfg:
        cfg.write("\n[limits]\nmax_attempts = 50\n")
    try:
        yield b
    finally:
        b.app.engine.dispose()
        smtp.stop()


@dataclass
class Backlog:
    raws: list[bytes] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    complete: list[str] = field(default_factory=list)     # sender addresses
    incomplete: list[str] = field(default_factory=list)
    automatic: list[str] = field(default_factory=list)


def make_backlog(b: Backlog, n: int) -> list[bytes]:
    """Add n mails to `b`: every tenth an out-of-office reply; of the requests a third letter-only
    (incomplete), the rest complete (letter + SK). One sender per request, so the daily auto-reply
    cap never applies."""
    start = len(b.raws)
    for i in range(start, start + n):
        sender, name = f"ppk{i:03d}@satker{i:03d}.contoh.go.id", f"PPK Nomor {i}"
        nip = f"19800315200604{1 + i % 2}{i:03d}"
        if i % 10 == 5:
            raw = request_email(sender, name, "Out of Office: Permohonan reset password",
                                "Saya sedang cuti sampai minggu depan.",
                                extra_headers={"Auto-Submitted": "auto-replied"})
            b.automatic.append(sender)
        elif i % 3 == 1:
            raw = request_email(sender, name, f"Permohonan reset password SPSE {i}",
                                f"Dengan hormat, mohon reset password. NIP. {nip}",
                                [("Surat Permohonan.pdf", sample_request_letter(name, nip))])
            b.incomplete.append(sender)
        else:
            raw = request_email(sender, name, f"Permohonan reset password SPSE {i}",
                                f"Dengan hormat, mohon reset password. NIP. {nip}",
                                [("Surat Permohonan.pdf", sample_request_letter(name, nip)),
                                 ("SK PPK.pdf", sample_sk(name, nip))])
            b.complete.append(sender)
        b.raws.append(raw)
        mid = email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"]
        b.message_ids.append(str(mid))
    return b.raws[start:]


@dataclass
class Run:
    killed: bool
    returncode: int | None
    stderr: str
    stdout: str
    seconds: float


def run_poll(bot: Bot, log_dir: Path, n: int, kill_after: float | None) -> Run:
    """One `mailbot poll` subprocess; SIGKILL after `kill_after` seconds unless it finished first."""
    cfg = bot.workdir / "mailbot.toml"
    out, err = log_dir / f"poll-{n:03d}.out", log_dir / f"poll-{n:03d}.err"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen([sys.executable, "-m", "mailbot.cli", "--config", str(cfg), "poll"],
                                stdin=subprocess.DEVNULL, stdout=fo, stderr=fe, env=dict(os.environ),
                                cwd=bot.workdir)
        killed = False
        t0 = time.monotonic()
        try:
            if kill_after is None:
                proc.wait(timeout=POLL_TIMEOUT)
            else:
                try:
                    proc.wait(timeout=kill_after)  # the kill delay is the experiment, not synchronisation
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=30)
                    killed = True
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return Run(killed, proc.returncode, err.read_text(errors="replace"), out.read_text(errors="replace"),
               time.monotonic() - t0)


def processed_message_ids(bot: Bot) -> list[str]:
    folder = bot.folder(bot.app.settings.imap.processed_folder)
    with imap_connect(bot.imap) as client:
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        if not uids:
            return []
        data = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    ids = []
    for item in data.values():
        head = next(v for k, v in item.items() if k.startswith(b"BODY[HEADER"))
        ids.append(str(email.message_from_bytes(head, policy=email.policy.default)["Message-ID"]))
    return ids


@dataclass(frozen=True)
class Progress:
    """What the database says has been done so far (read between runs, while no poll is running)."""

    stored: int
    handled: int
    moved: int
    queued: int
    send_attempts: int
    sending: int
    sent: int

    @classmethod
    def of(cls, bot: Bot) -> Progress:
        with bot.app.factory() as s:
            def count(model, *where) -> int:  # type: ignore[no-untyped-def]
                return s.scalar(select(func.count()).select_from(model).where(*where)) or 0
            return cls(count(InboundMessage), count(InboundMessage, InboundMessage.status != "new"),
                       count(InboundMessage, InboundMessage.moved.is_(True)), count(Outbox),
                       s.scalar(select(func.coalesce(func.sum(Outbox.attempts), 0))) or 0,
                       count(Outbox, Outbox.status == "sending"), count(Outbox, Outbox.status == "sent"))

    def phase(self, before: Progress) -> str:
        """Where a killed run stopped, judged from what it got done."""
        if self == before:
            return "start-up (nothing done)"
        if self.sending and self.send_attempts > before.send_attempts:
            return "mid-SMTP-send"
        if self.sent > before.sent:
            return "during flush"
        if self.moved > before.moved:
            return "during/after IMAP move"
        if self.handled > before.handled:
            return "during processing"
        return "during fetch"


def test_kill_minus_nine_at_random_moments_loses_and_duplicates_nothing(chaos_bot: Bot) -> None:
    """Scenario: a backlog of requests, `mailbot poll` SIGKILLed at random moments ≥ 10 times, then run to the end."""
    bot = chaos_bot
    log_dir = bot.workdir / "polls"
    log_dir.mkdir()
    runs: list[Run] = []
    # Calibration on the empty inbox: how long a poll takes to start (imports, migrations, connect)
    # on this machine, so that most kills land after start-up, in the work itself.
    # The quickest of three: the first also migrates the new database and fills data_dir/cache.
    for _ in range(3):
        runs.append(run_poll(bot, log_dir, len(runs), kill_after=None))
        assert runs[-1].returncode == 0, runs[-1].stderr
    startup = min(r.seconds for r in runs)
    latest = startup + 1.5  # the latest kill moment; lowered when a poll finishes before its kill

    backlog = Backlog()

    def append_wave(n: int) -> None:
        with imap_connect(bot.imap) as client:  # one connection for the whole wave
            for raw in make_backlog(backlog, n):
                client.append("INBOX", raw)

    append_wave(MESSAGES)
    rng = random.Random(SEED)
    started = time.monotonic()
    kills = waves = 0
    table = []
    before = Progress.of(bot)
    flush_hit = idle = False
    # At least KILLS kills; past that, a few more while none has hit the outbox flush (the phase that
    # follows processing of the whole backlog) and work is left.
    while kills < KILLS or (not flush_hit and not idle and kills < 2 * KILLS):
        if idle:
            # A run got to the end before KILLS kills landed: a further wave keeps the kills on real work.
            waves += 1
            assert waves <= KILLS, f"backlog done {waves} times with only {kills} kills; runs:\n" + "\n".join(table)
            append_wave(MESSAGES)  # as long as the first: a poll over it outlasts the kill window
            table.append(f"  -- wave {waves + 1}: {len(backlog.raws)} messages in all")
        delay = rng.uniform(0.5 * startup, latest)
        run = run_poll(bot, log_dir, len(runs), kill_after=delay)
        runs.append(run)
        kills += run.killed
        assert run.killed or run.returncode == 0, f"poll {len(runs) - 1} exited {run.returncode}:\n{run.stderr}"
        after = Progress.of(bot)
        idle = not run.killed
        if idle:
            # The poll finished before its kill: polls are quicker here than the window assumed; the next
            # wave is as long as this one, so later kills come before its end (and after start-up).
            latest = max(1.1 * startup, min(latest, 0.9 * run.seconds))
        flush_hit |= run.killed and after.phase(before) in ("mid-SMTP-send", "during flush")
        table.append(f"  run {len(runs) - 1:3d} {'killed' if run.killed else 'done  '} at {run.seconds:5.2f}s  "
                     f"{after.phase(before) if run.killed else '':26s} stored {after.stored:3d} "
                     f"handled {after.handled:3d} moved {after.moved:3d} queued {after.queued:3d} "
                     f"sent {after.sent:3d}")
        before = after
    chaos_seconds = time.monotonic() - started
    # Then polls without kills until one has nothing left to do.
    for _ in range(10):
        run = run_poll(bot, log_dir, len(runs), kill_after=None)
        runs.append(run)
        assert run.returncode == 0, f"final poll exited {run.returncode}:\n{run.stderr}"
        m = SUMMARY_RE.search(run.stdout)
        assert m, run.stdout
        if all(int(x) == 0 for x in m.groups()):
            break
    else:
        pytest.fail("polls kept finding work after the kills stopped")

    report = (f"{len(backlog.raws)} messages, {kills} kills in {len(runs)} runs (seed {SEED}, start-up {startup:.1f}s), "
              f"chaos phase {chaos_seconds:.1f}s, total {time.monotonic() - started:.1f}s")
    print("\n" + report + "\n" + "\n".join(table))

    # Intake: each appended message is exactly one row, processed (requests) or ignored (auto-replies).
    with bot.app.factory() as s:
        rows = s.execute(select(InboundMessage.message_id, InboundMessage.status, InboundMessage.kind)).all()
        n_cases = s.scalar(select(func.count()).select_from(Case))
        case_senders = Counter(s.scalars(select(Case.sender)))
        outbox_status = Counter(s.scalars(select(Outbox.status)))
        sent_ids = set(s.scalars(select(Outbox.message_id).where(Outbox.status == "sent")))
    by_mid = Counter(mid for mid, _, _ in rows)
    assert sorted(by_mid) == sorted(backlog.message_ids), report
    assert max(by_mid.values()) == 1, f"{report}: duplicate rows {[k for k, v in by_mid.items() if v > 1]}"
    status = {mid: st for mid, st, _ in rows}
    auto_ids = {mid for mid, raw in zip(backlog.message_ids, backlog.raws) if b"Auto-Submitted" in raw}
    assert {mid for mid, st in status.items() if st == "ignored"} == auto_ids, report
    assert {mid for mid, st in status.items() if st == "processed"} == set(backlog.message_ids) - auto_ids, report

    # Cases: one per non-automatic request, none lost, none twice.
    requests = backlog.complete + backlog.incomplete
    assert n_cases == len(requests), report
    assert case_senders == Counter(requests), report
    assert set(outbox_status) == {"sent"}, f"{report}: outbox {outbox_status}"

    # IMAP: the inbox is empty, the processed folder holds every message exactly once.
    assert bot.uids("INBOX") == [], report
    assert sorted(processed_message_ids(bot)) == sorted(backlog.message_ids), report

    # SMTP: every expected mail arrived — counted once per Message-ID (copies are checked below).
    received = bot.smtp.messages
    distinct: dict[str | None, ReceivedMail] = {}
    for m in received:
        distinct.setdefault(m.header("Message-ID"), m)

    def rcpts(template: str) -> list[str]:
        return sorted(r for m in distinct.values() if m.header("X-Mailbot-Template") == template
                      for r in m.rcpt_tos)

    templates = Counter(m.header("X-Mailbot-Template") for m in distinct.values())
    assert rcpts("ack") == sorted(backlog.complete), report
    assert rcpts("incomplete") == sorted(backlog.incomplete), report
    assert rcpts("review_request") == [ADMIN] * len(backlog.complete), report
    # admin_digest only if the run happens to straddle the morning digest time.
    assert set(templates) <= {"ack", "incomplete", "review_request", "admin_digest"}, f"{report}: {templates}"

    # No Message-ID arrived twice, except mails whose outbox row a restarted poll found in `sending`.
    # That is the one window left by design (mailbot/outbox.py flush): the row is marked `sending` and
    # committed, the SMTP server accepts the mail, and the process dies before `sent` is committed.
    # The next flush cannot know whether the server took it, so it resends with the same Message-ID
    # (receivers collapse those) and logs "was being sent when the process stopped". Each such log
    # line allows at most one extra copy of that Message-ID.
    copies = Counter(m.header("Message-ID") for m in received)
    reconciled = Counter(mid for r in runs for _, _, mid in RECONCILED_RE.findall(r.stderr))
    extra = {mid: n - 1 for mid, n in copies.items() if n > 1}
    print(f"duplicate deliveries {sum(extra.values())}, reconciliations logged {sum(reconciled.values())}")
    assert all(extra[mid] <= reconciled[mid] for mid in extra), \
        f"{report}: duplicates without reconciliation: {({m: (extra[m], reconciled[m]) for m in extra})}"
    # Every outbox row marked sent really arrived (same Message-ID), and nothing arrived that is not one.
    assert set(copies) == sent_ids, report
