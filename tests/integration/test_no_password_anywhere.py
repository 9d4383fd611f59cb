"""The issue's "done when": after a full SOP run with DEBUG logging, neither the proposed nor the typed
password is in any log record, stored file (database, blobs), archive, report, CLI output or mail the
bot sent — except the credentials mail to the PPK (and the proposal in the admins' review_request)."""

from __future__ import annotations

import logging
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from mailbot.cli import main
from mailbot.store.models import Case
from tests.integration.test_secrets_never_stored import thank_you
from tests.support.bot import Bot, submit
from tests.support.mails import PPK_A, admin_reply

TYPED = "Diketik7Admin2026z"
SERVERS = {"mail", "aiosmtpd", "pymap", "proxy_protocol"}  # loggers of the in-process test servers


def _proposed(review_text: str) -> str:
    line = next(line for line in review_text.splitlines() if "yang diusulkan:" in line)
    return line.split(":", 1)[1].strip()


def test_full_run_with_debug_logging_leaves_no_password(any_bot: Bot, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: request → review (with a proposal) → the admin's SETUJU with a typed Password: line
    (quoting the review mail) → credentials to the PPK → the PPK's thank-you quoting them →
    `archive export`, `report`, `case show`, all at DEBUG; then every place is searched."""
    caplog.set_level(logging.DEBUG)
    review = submit(any_bot)
    proposed = _proposed(review.message.get_body(("plain",)).get_content())
    quoted = "\n".join("> " + line for line in review.message.get_body(("plain",)).get_content().splitlines())
    any_bot.append(admin_reply(review, f"SETUJU\nPassword: {TYPED}\n\nPada hari ini, mailbot menulis:\n{quoted}\n",
                               f"<div>SETUJU</div><div>Password: <span>{TYPED[:8]}</span><span>{TYPED[8:]}</span>"
                               f"</div><blockquote>{review.message.get_body(('html',)).get_content()}</blockquote>"))
    any_bot.poll()
    [creds] = any_bot.sent("credentials")
    assert TYPED in creds.message.get_body(("plain",)).get_content()
    assert creds.message["To"].endswith(f"<{PPK_A[2]}>") or PPK_A[2] in str(creds.message["To"])
    any_bot.append(thank_you(creds, TYPED))
    any_bot.poll()
    [case] = any_bot.all(Case)
    assert case.status == "COMPLETED"

    config = str(any_bot.workdir / "mailbot.toml")
    month = datetime.now(any_bot.app.settings.tz).strftime("%Y-%m")
    archive, reports = tmp_path / "out" / "arsip.zip", tmp_path / "out" / "laporan"
    outputs = []
    for argv in (["archive", "export", case.number, str(archive)],
                 ["report", "--month", month, "--format", "html,csv", "--out", str(reports)],
                 ["case", "show", case.number], ["case", "show", case.number, "--json"], ["cases"]):
        capsys.readouterr()
        rc = main(["-v", "--config", config, *argv])
        out, err = capsys.readouterr()
        assert rc == 0, (argv, out, err)
        outputs.append(out + err)
    assert archive.exists() and any(reports.iterdir())

    places: dict[str, bytes] = {}
    for record in caplog.records:
        if record.name.split(".")[0] not in SERVERS:
            places[f"log {record.name}: {record.getMessage()[:60]}"] = record.getMessage().encode()
    for path in list(any_bot.workdir.rglob("*")) + list(tmp_path.rglob("*")):
        if path.is_file():
            places[str(path)] = path.read_bytes()  # database, blobs under data_dir, archive, reports
    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            places[f"zip {name}"] = zf.read(name)
    for i, out in enumerate(outputs):
        places[f"cli output {i}"] = out.encode()
    for mail in any_bot.sent():
        template = mail.header("X-Mailbot-Template")
        if template == "credentials":
            continue  # the one mail that carries the password, to the PPK
        data = mail.message.as_bytes() + b"".join(
            part.get_content().encode() for part in mail.message.walk() if part.get_content_maintype() == "text")
        places[f"mail {template} to {mail.message['To']}"] = data.replace(proposed.encode(), b"") \
            if template == "review_request" else data  # the admins' review mail proposes the password
    assert len(places) > 20
    leaks = [where for where, data in places.items() if TYPED.encode() in data or proposed.encode() in data
             or TYPED[:8].encode() in data]
    assert leaks == []
