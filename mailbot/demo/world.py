"""The demo: an embedded mail world, a config for it, and the whole SOP played in a few seconds."""

from __future__ import annotations

import logging
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Sequence

from sqlalchemy import select

from mailbot.admin.registry import import_csv
from mailbot.admin.views import list_cases
from mailbot.app import App, build_app
from mailbot.cases.ocr import ocr_available
from mailbot.config import load_settings
from mailbot.demo import samplepdf, samplescan
from mailbot.demo.servers import EmbeddedImap, EmbeddedSmtp, ReceivedMail
from mailbot.intake.mailbox import ImapMailbox, ImapParams
from mailbot.runner import poll_once
from mailbot.store.db import transaction
from mailbot.store.models import Case, Document

ADMIN = "admin.agency@lpse-demo.go.id"
BOT = "lpse@lpse-demo.go.id"
PPK_A = ("Budi Santoso", "198003152006041002", "budi.santoso@pupr-demo.go.id", "budi.ppk", "Dinas PUPR")
PPK_B = ("Siti Rahmawati", "198507222010012003", "siti.rahma@dinkes-demo.go.id", "siti.ppk", "Dinas Kesehatan")
PPK_C = ("Rina Kusumawati", "198209172009032004", "rina.kusuma@bpbd-demo.go.id", "rina.ppk", "BPBD")
RINA_PRIVATE = "rina.kusumawati82@gmail.com"  # she writes from her private address: the NIP is on the scans


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
        maintype, subtype = ("application", "pdf") if data.startswith(b"%PDF") else (
            ("image", "jpeg") if data.startswith(b"\xff\xd8") else ("image", "png"))
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
                 prefix: str = "LPSE-DEMO", ocr: bool = True) -> Path:
    cfg = workdir / "mailbot.toml"
    ocr_table = "" if ocr else "\n[ocr]\nenabled = false\n"
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
{ocr_table}""", encoding="utf-8")
    return cfg


def start_world(workdir: Path, *, ocr: bool = True) -> DemoWorld:
    imap = EmbeddedImap(workdir=workdir / "imap")
    ep = imap.start()
    smtp = EmbeddedSmtp()
    smtp_host, smtp_port = smtp.start()
    os.environ["MAILBOT_IMAP_PASSWORD"] = ep.password
    os.environ.setdefault("MAILBOT_SECRET", secrets.token_hex(32))
    cfg = write_config(workdir, ep.host, ep.port, ep.username, smtp_host, smtp_port, ocr=ocr)
    app = build_app(load_settings(cfg))
    registry = workdir / "registry.csv"
    registry.write_text("nama,nip,email,user_id,satker\n"
                        + "\n".join(",".join(p) for p in (PPK_A, PPK_B, PPK_C)) + "\n", encoding="utf-8")
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
    # Drawing the scan and the photo takes a second or two of Pillow (which releases the GIL): done
    # beside the first steps, which mostly wait for the mail servers.
    with ThreadPoolExecutor(max_workers=1) as pool:
        scans = pool.submit(scanned_request, PPK_C[0], PPK_C[1], RINA_PRIVATE)
        _steps(world, say, scans)


def _steps(world: DemoWorld, say, scans: Future[bytes]) -> None:  # type: ignore[no-untyped-def]
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

    _scans(world, say, scans)

    say("\nThe register (mailbot cases):")
    for c in list_cases(world.app):
        say(f"  {c['number']:<22} {c['status']:<18} {c['request_type']:<15} {c['sender']}")


def scanned_request(name: str, nip: str, sender: str, *, seed: int = 0) -> bytes:
    """A PPK's request as phones and office scanners send it: `scan0001.pdf` (an image-only scan of the
    letter) and `IMG_….jpg` (a phone photo of the SK); the body names no NIP."""
    letter = samplescan.as_scanned_pdf([samplescan.degrade(samplescan.letter_image(name, nip, seed=seed), "skew", seed)])
    sk = samplescan.sk_image([(name, nip)], nomor="188.4/27/KPTS/2026", tanggal="5 Januari 2026",
                             tahun_anggaran=2026, layout=2, seed=seed, dpi=200)[0]
    # A phone photo as the phone's mail app sends it ("medium" size: 3 MP instead of 12) keeps the demo quick.
    photo = samplescan.as_phone_photo_jpeg(sk, seed=seed, orientation=6, size=(1500, 2000))
    return request_email(sender, name, "reset password",
                         "Selamat pagi, bersama ini saya kirimkan surat permohonan dan SK (hasil scan dan foto).\n"
                         f"Terima kasih.\n{name}",
                         [("scan0001.pdf", letter), ("IMG_20261201_0932.jpg", photo)])


def _scans(world: DemoWorld, say, raw: Future[bytes]) -> None:  # type: ignore[no-untyped-def]
    available, why = ocr_available(world.app.settings.ocr)
    say(f"\n7. PPK Rina, from her private address, sends a scanned letter and a phone photo of the SK"
        f" (OCR: {'available, ' + why if available else 'unavailable: ' + why})")
    world.append(raw.result())
    before = len(world.smtp.messages)
    r = world.poll()
    say(f"  mailbot poll: {r.summary()}")
    _show(say, world.smtp.wait_for(before + 1, timeout=10)[before:])
    with transaction(world.app.factory) as s:
        case = s.scalars(select(Case).where(Case.sender == RINA_PRIVATE)).one()
        docs = s.scalars(select(Document).where(Document.case_id == case.id).order_by(Document.id)).all()
        say(f"   case {case.number} is {case.status}" + (" after OCR" if available else ""))
        for d in docs:
            read = {"ocr": "read by OCR", "text": "text layer"}.get(d.text_source or "", "not read")
            kinds = ", ".join(d.kinds) or "kind unknown"
            manual = "; perlu diperiksa manual" if d.needs_manual_check else ""
            say(f"     {d.filename:<24} {read:<12} {kinds}{manual}")
    if available:
        say("   the scans became a complete case: the admin's review mail shows the NIP read from them")
    else:
        say("   without OCR the scans go to the admin as manual checks (see `mailbot check`)")
