"""The demo: an embedded mail world, a config for it, and the whole SOP played in a few seconds."""

from __future__ import annotations

import logging
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Sequence

from mailbot.admin.registry import import_csv
from mailbot.admin.views import list_cases
from mailbot.app import App, build_app
from mailbot.config import load_settings
from mailbot.demo import samplepdf
from mailbot.demo.servers import EmbeddedImap, EmbeddedSmtp, ReceivedMail
from mailbot.intake.mailbox import ImapMailbox, ImapParams
from mailbot.runner import poll_once

ADMIN = "admin.agency@lpse-demo.go.id"
BOT = "lpse@lpse-demo.go.id"
PPK_A = ("Budi Santoso", "198003152006041002", "budi.santoso@pupr-demo.go.id", "budi.ppk", "Dinas PUPR")
PPK_B = ("Siti Rahmawati", "198507222010012003", "siti.rahma@dinkes-demo.go.id", "siti.ppk", "Dinas Kesehatan")


def request_email(sender: str, name: str, subject: str, body: str,
                  attachments: Sequence[tuple[str, bytes]] = (), *, in_reply_to: str | None = None,
                  to: str = BOT, extra_headers: dict[str, str] | None = None) -> bytes:
    """A PPK's email as a mail client would send it (also used by the tests)."""
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[-1])
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for k, v in (extra_headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    for filename, data in attachments:
        maintype, subtype = ("application", "pdf") if data.startswith(b"%PDF") else ("image", "png")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def reply_email(original: ReceivedMail, sender: str, name: str, first_lines: str) -> bytes:
    """A reply as Gmail writes it: new text on top, the original quoted below "On … wrote:"."""
    orig = original.message
    plain = orig.get_body(("plain",))
    quoted = "\n".join("> " + line for line in (plain.get_content() if plain else "").splitlines())
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = str(orig["From"])
    msg["Subject"] = "Re: " + str(orig["Subject"])
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[-1])
    msg["In-Reply-To"] = str(orig["Message-ID"])
    msg["References"] = str(orig["Message-ID"])
    msg.set_content(f"{first_lines}\n\nOn {orig['Date']}, {orig['From']} wrote:\n{quoted}\n")
    return msg.as_bytes()


@dataclass
class DemoWorld:
    """The running demo: servers, config and app (also handy for tests)."""

    imap: EmbeddedImap
    smtp: EmbeddedSmtp
    app: App
    workdir: Path

    def append(self, raw: bytes) -> None:
        ep = self.imap.endpoint()
        with ImapMailbox(ImapParams(ep.host, ep.port, "none", ep.username, ep.password)) as mb:
            mb.append(self.app.settings.imap.folder, raw)

    def poll(self, now: datetime | None = None):  # type: ignore[no-untyped-def]
        return poll_once(self.app, now)


def write_config(workdir: Path, imap_host: str, imap_port: int, imap_user: str, smtp_host: str,
                 smtp_port: int, database_url: str = "", admins: Sequence[str] = (ADMIN,),
                 prefix: str = "LPSE-DEMO") -> Path:
    cfg = workdir / "mailbot.toml"
    admin_list = ", ".join(f'"{a}"' for a in admins)
    cfg.write_text(f"""
[office]
name = "LPSE Kabupaten Demo"
case_prefix = "{prefix}"
timezone = "Asia/Jakarta"

[imap]
host = "{imap_host}"
port = {imap_port}
security = "none"
username = "{imap_user}"
password_env = "MAILBOT_IMAP_PASSWORD"
idle = true
poll_interval_seconds = 5

[smtp]
host = "{smtp_host}"
port = {smtp_port}
security = "none"
from_address = "{BOT}"
from_name = "LPSE Kabupaten Demo"

[database]
url = "{database_url}"

[storage]
data_dir = "data"

[admins]
emails = [{admin_list}]
""", encoding="utf-8")
    return cfg


def start_world(workdir: Path) -> DemoWorld:
    imap = EmbeddedImap(workdir=workdir / "imap")
    ep = imap.start()
    smtp = EmbeddedSmtp()
    smtp_host, smtp_port = smtp.start()
    os.environ["MAILBOT_IMAP_PASSWORD"] = ep.password
    os.environ.setdefault("MAILBOT_SECRET", secrets.token_hex(32))
    cfg = write_config(workdir, ep.host, ep.port, ep.username, smtp_host, smtp_port)
    app = build_app(load_settings(cfg))
    registry = workdir / "registry.csv"
    registry.write_text("nama,nip,email,user_id,satker\n"
                        + "\n".join(",".join(p) for p in (PPK_A, PPK_B)) + "\n", encoding="utf-8")
    import_csv(app, registry)
    return DemoWorld(imap, smtp, app, workdir)


def _show(say, mails: list[ReceivedMail]) -> None:  # type: ignore[no-untyped-def]
    for m in mails:
        say(f"    -> {m.header('X-Mailbot-Template'):<20} to {', '.join(m.rcpt_tos):<36} {m.header('Subject')}")


def run_demo(verbose: bool = False) -> int:
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    started = time.monotonic()
    out = sys.stdout

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    with tempfile.TemporaryDirectory(prefix="mailbot-demo-") as tmp:
        world = start_world(Path(tmp))
        try:
            _play(world, say)
        finally:
            world.smtp.stop()
            world.imap.stop()
    say(f"\nDemo finished in {time.monotonic() - started:.1f} s. Everything ran on 127.0.0.1; nothing left behind.")
    return 0


def _cycle(world: DemoWorld, say, expect: int) -> list[ReceivedMail]:  # type: ignore[no-untyped-def]
    before = len(world.smtp.messages)
    r = world.poll()
    say(f"  mailbot poll: {r.summary()}")
    mails = world.smtp.wait_for(before + expect, timeout=10)[before:]
    _show(say, mails)
    return mails


def _play(world: DemoWorld, say) -> None:  # type: ignore[no-untyped-def]
    a_name, a_nip, a_mail, *_ = PPK_A
    b_name, b_nip, b_mail, *_ = PPK_B
    say("mailbot demo — SOP 'Perubahan Password dan Pemberian Informasi User ID PPK'")
    say(f"  embedded IMAP (pymap) on {world.imap.endpoint().host}:{world.imap.endpoint().port}, "
        f"SMTP (aiosmtpd) on {world.smtp.host}:{world.smtp.port}, SQLite in {world.workdir}")
    say("\n1. PPK Budi emails a complete request: letter + SK (SOP step 1)")
    world.append(request_email(a_mail, a_name, "Permohonan reset password SPSE",
                               f"Yth. Admin LPSE,\n\nDengan hormat, saya mohon reset password SPSE.\n"
                               f"Nama: {a_name}\nNIP. {a_nip}\n\nHormat saya,\n{a_name}",
                               [("Surat Permohonan Reset Password.pdf", samplepdf.sample_request_letter(a_name, a_nip)),
                                ("SK PPK.pdf", samplepdf.sample_sk(a_name, a_nip))]))
    mails = _cycle(world, say, expect=2)
    say("   completeness checked in seconds (SOP step 2); the case waits for the admin's validity check")
    review_a = next(m for m in mails if m.header("X-Mailbot-Template") == "review_request")

    say("\n2. PPK Siti emails only the letter (the SK is missing)")
    world.append(request_email(b_mail, b_name, "Permohonan informasi user ID",
                               f"Dengan hormat, mohon informasi user ID SPSE saya. NIP. {b_nip}",
                               [("surat_permohonan.pdf",
                                 samplepdf.sample_request_letter(b_name, b_nip, "informasi user ID"))]))
    mails = _cycle(world, say, expect=1)
    incomplete = mails[0]
    say("   the bot asked for the missing SK (SOP step 3)")

    say("\n3. Siti replies to that email with the SK (SOP step 4)")
    world.append(request_email(b_mail, b_name, "Re: " + str(incomplete.header("Subject")),
                               "Berikut kami lampirkan SK pengangkatan PPK.",
                               [("SK Pengangkatan PPK.pdf", samplepdf.sample_sk(b_name, b_nip))],
                               in_reply_to=incomplete.header("Message-ID")))
    mails = _cycle(world, say, expect=2)
    review_b = next(m for m in mails if m.header("X-Mailbot-Template") == "review_request")
    say("   Siti is told the file is complete and being checked ('complete'); the admin gets the review")

    say("\n4. The admin checks validity and replies SETUJU to Budi's review email (SOP steps 5, 6, 8)")
    world.append(reply_email(review_a, ADMIN, "Admin Agency", "SETUJU"))
    mails = _cycle(world, say, expect=2)
    say("   the PPK got the new password at the registered address; it is now erased from the database")

    say("\n5. The admin replies TOLAK to Siti's case (SOP step 7)")
    world.append(reply_email(review_b, ADMIN, "Admin Agency",
                             "TOLAK NIP pada SK tidak sesuai dengan data SPSE, mohon periksa kembali."))
    _cycle(world, say, expect=2)

    say("\n6. A second poll finds nothing new: nothing is processed or sent twice")
    _cycle(world, say, expect=0)

    say("\nThe register (mailbot cases):")
    for c in list_cases(world.app):
        say(f"  {c['number']:<22} {c['status']:<18} {c['request_type']:<15} {c['sender']}")
