"""Quote headers of the clients people use, the admin's own block, and HTML-only replies read from their HTML."""

from __future__ import annotations

import email
import pickle
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailbot.cases.commands import AdminCommand, parse_command
from mailbot.cases.replies import new_text
from mailbot.domain.mail import ParsedMail
from mailbot.intake.parse import parse_message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "replies"

# One quote header per client and language: what comes after it is the quoted review mail.
HEADERS = {
    # Outlook blocks
    "outlook_en": "From: LPSE Mailbot <bot@lpse.example.go.id>\nSent: Tuesday, November 24, 2026 10:05 AM\n"
                  "To: admin@lpse.example.go.id\nSubject: Tinjauan",
    "outlook_id": "Dari: LPSE Mailbot <bot@lpse.example.go.id>\nDikirim: Selasa, 24 November 2026 10.05\n"
                  "Kepada: admin@lpse.example.go.id\nPerihal: Tinjauan",
    "outlook_id_terkirim": "Dari: LPSE Mailbot\nTerkirim: 24 November 2026 10:05\nKepada: admin\nSubjek: Tinjauan",
    "outlook_nl": "Van: Bot [mailto:bot@example.go.id]\nVerzonden: dinsdag 24 november 2026 10:05\nAan: admin\n"
                  "Onderwerp: Tinjauan",
    "outlook_it": "Da: Bot<mailto:bot@example.go.id>\nInviato: martedì 24 novembre 2026 10:05\nA: admin\n"
                  "Oggetto: Tinjauan",
    "outlook_da": "Fra: bot@example.go.id\nSendt: 24. november 2026 10:05\nTil: admin\nEmne: Tinjauan",
    "outlook_sv": "Från: Bot [mailto:bot@example.go.id]\nSkickat: den 24 november 2026 10:05\nTill: admin\n"
                  "Ämne: Tinjauan",
    "outlook_ru": "От: Bot <bot@example.go.id>\nОтправлено: 24 ноября 2026 г. 10:05\nКому: admin\nТема: Tinjauan",
    "outlook_de": "Von: Bot <bot@example.go.id>\nGesendet: Dienstag, 24. November 2026 10:05\nAn: admin\n"
                  "Betreff: Tinjauan",
    "outlook_fr": "De : Bot [mailto:bot@example.go.id]\nEnvoyé : mardi 24 novembre 2026 10:05\nÀ : admin\n"
                  "Objet : Tinjauan",
    "outlook_es": "De: Bot <bot@example.go.id>\nEnviado: martes, 24 de noviembre de 2026 10:05\nPara: admin\n"
                  "Asunto: Tinjauan",
    "outlook_pl": "Od: Bot <bot@example.go.id>\nWysłano: wtorek, 24 listopada 2026 10:05\nDo: admin\nTemat: Tinjauan",
    "outlook_fi": "Lähettäjä: Bot <bot@example.go.id>\nLähetetty: tiistai 24. marraskuuta 2026 10.05\n"
                  "Vastaanottaja: admin\nAihe: Tinjauan",
    "outlook_bold": "*From:* Bot [mailto:\nbot@example.go.id]\n*Sent:* Tuesday, November 24, 2026 10:05 AM\n"
                    "*To:* admin\n*Subject:* Tinjauan",
    "date_block": "Date: Tue, 24 Nov 2026 10:05:00 +0700\nFrom: bot@example.go.id\nTo: admin@example.go.id",
    "one_line_block": "From: Bot <bot@example.go.id> Sent: Tuesday, November 24, 2026 10:05 AM To: admin",
    "split_from": "From: LPSE Mailbot\n<a-really-long-address@lpse.example.go.id>\nSent: Tuesday, 24 Nov 2026\n"
                  "To: admin",
    # Attributions
    "gmail_en": "On Tue, Nov 24, 2026 at 10:05 AM LPSE Mailbot <bot@lpse.example.go.id> wrote:",
    "gmail_id": "Pada Sel, 24 Nov 2026 pukul 10.05 LPSE Mailbot <bot@lpse.example.go.id> menulis:",
    "gmail_id_tanggal": "Pada tanggal Sel, 24 Nov 2026 10.05, LPSE Mailbot <bot@lpse.example.go.id> menulis:",
    "gmail_pl": "wt., 24 lis 2026 o 10:05 LPSE Mailbot <bot@lpse.example.go.id> napisał(a):",
    "thunderbird_pl": "W dniu 24.11.2026 o 10:05, LPSE Mailbot pisze:",
    "gmail_pl_w_dniu": "W dniu 24 listopada 2026 10:05 użytkownik Bot <bot@example.go.id> napisał:",
    "apple_da": "Den 24. nov. 2026 kl. 10.05 skrev LPSE Mailbot <bot@lpse.example.go.id>:",
    "sv_den": "Den 24 november, 2026 10:05:00, Bot (bot@example.go.id) skrev:",
    "fi": "ti 24.11.2026 klo 10.05 LPSE Mailbot (bot@lpse.example.go.id) kirjoitti:",
    "nl_op": "Op di 24 nov. 2026 om 10:05 schreef LPSE Mailbot <bot@lpse.example.go.id>:",
    "nl_het_volgende": "Op 24 nov. 2026, om 10:05 heeft Bot <bot@example.go.id> het volgende geschreven:",
    "de_am": "Am Di., 24. Nov. 2026 um 10:05 Uhr schrieb LPSE Mailbot <bot@lpse.example.go.id>:",
    "de_inbox": "LPSE Mailbot <bot@lpse.example.go.id> schrieb am Di., 24. Nov. 2026, 10:05:",
    "it_in_data": "In data 24 novembre 2026 10:05:00 \"Bot\" <bot@example.go.id> ha scritto:",
    "it_il_giorno": "Il giorno mar 24 nov 2026 alle ore 10:05 Bot <bot@example.go.id> ha scritto:",
    "ru_gmail": "вт, 24 нояб. 2026 г. в 10:05, LPSE Mailbot <bot@lpse.example.go.id>:",
    "ru_thunderbird": "24.11.2026 10:05, LPSE Mailbot пишет:",
    "ru_android": "24.11.2026 10:05 пользователь \"bot@example.go.id\" <bot@example.go.id> написал:",
    "es": "El mar., 24 nov. 2026 a las 10:05, Bot (<bot@example.go.id>) escribió:",
    "pt": "Em ter., 24 de nov. de 2026 às 10:05, Bot <bot@example.go.id> escreveu:",
    "fr": "Le mar. 24 nov. 2026 à 10:05, LPSE Mailbot <bot@lpse.example.go.id> a écrit :",
    "name_only": "LPSE Mailbot <bot@lpse.example.go.id> wrote:",
    "date_first_gmail": "2026-11-24 10:05 GMT+07:00 LPSE Mailbot <bot@lpse.example.go.id>:",
    "date_first_no_colon": "2026/11/24 LPSE Mailbot <bot@lpse.example.go.id>",
    "date_first_dotted": "24.11.2026, 10:05, \"LPSE Mailbot\" <bot@lpse.example.go.id>:",
    "time_first": "10:05 AM, November 24, 2026, \"LPSE Mailbot\" <bot@lpse.example.go.id>:",
    "wrapped_2": "On Tue, Nov 24, 2026 at 10:05 AM LPSE Mailbot <bot@lpse.example.go.id>\nwrote:",
    "wrapped_3": "On Tue, Nov 24, 2026 at 10:05 AM, LPSE Mailbot <\nbot@lpse.example.go.id>\nwrote:",
    "wrapped_3_fr": "Le 24 nov. 2026 10:05, \"LPSE Mailbot\"\n<bot@lpse.example.go.id>\na écrit :",
    "wrapped_5": "On Tue,\nNov 24, 2026\nat 10:05 AM,\nLPSE Mailbot <bot@lpse.example.go.id>\nwrote:",
    "wrapped_fi": "ti 24.11.2026 klo 10.05 LPSE Mailbot\n<bot@lpse.example.go.id> kirjoitti:",
    "zoho": "---- On Tue, 24 Nov 2026 10:05:00 +0700 LPSE Mailbot <bot@lpse.example.go.id> wrote ----",
    "zoho_id": "---- Pada Sel, 24 Nov 2026 10:05:00 +0700 LPSE Mailbot <bot@lpse.example.go.id> menulis ----",
    "dashed": "------On 24/11/2026 10:05 AM, LPSE Mailbot wrote-----",
    "no_colon": "On Tue, 24 Nov 2026 10:05:00 +0700 LPSE Mailbot <bot@lpse.example.go.id> wrote",
    # Separators
    "original_message": "-----Original Message-----",
    "pesan_asli": "----- Pesan Asli -----",
    "pesan_asli_long": "-------- Pesan Asli --------",
    "bold_original": "*-------- Original Message --------*",
    "forwarded": "---------- Forwarded message ---------",
    "pesan_terusan": "---------- Pesan terusan ---------",
    "danish_separator": "-------- Oprindelig besked --------",
    "german_separator": "-----Ursprüngliche Nachricht-----",
    "underscores": "________________________________\nFrom: Bot",
}

# Looks like a quote header without being a known one: options and reasons stop there all the same.
UNKNOWN_HEADERS = {
    "label_run": "Absender: Bot <bot@example.go.id>\nZeitpunkt: 24.11.2026 10:05\nEmpfänger: admin",
    "label_run_id": "Pengirim: LPSE Mailbot <bot@example.go.id>\nWaktu kirim: Selasa, 24/11/2026 10.05\n"
                    "Penerima: admin",
    "label_run_known_dated": "Date: Selasa, 24/11/2026 10.05\nPengirim: LPSE Mailbot",
    "attribution_like": "Quelqu'un <bot@example.go.id> a dit :",
    "dated_colon": "Selasa 24/11/2026 10.05, sistem:",
    "rule": "==========",
    "dashes": "----------------",
}

QUOTED_REVIEW = "Permohonan reset password PPK.\nPassword: Quoted123\nUser ID: orang.lain\nTOLAK jika tidak sesuai"


@pytest.mark.parametrize("header", list(HEADERS.values()), ids=list(HEADERS))
def test_known_header_cuts_the_quote(header: str) -> None:
    assert new_text(f"SETUJU\n\n{header}\n\n{QUOTED_REVIEW}") == "SETUJU"


@pytest.mark.parametrize("header", list(HEADERS.values()) + list(UNKNOWN_HEADERS.values()),
                         ids=list(HEADERS) + list(UNKNOWN_HEADERS))
@pytest.mark.parametrize("gap", ["\n", "\n\n"], ids=["no_blank", "blank"])
def test_options_are_read_only_above_the_quote(header: str, gap: str) -> None:
    command = parse_command(f"SETUJU\nCatatan: dicek{gap}{header}\n{QUOTED_REVIEW}")
    assert (command.action, command.password, command.user_id, command.note) == ("approve", None, None, "dicek")


@pytest.mark.parametrize("header", list(HEADERS.values()) + list(UNKNOWN_HEADERS.values()),
                         ids=list(HEADERS) + list(UNKNOWN_HEADERS))
def test_reason_stops_at_the_quote_header(header: str) -> None:
    command = parse_command(f"TOLAK\nNIP tidak sesuai dengan SK\n{header}\n{QUOTED_REVIEW}")
    assert (command.action, command.argument) == ("reject", "NIP tidak sesuai dengan SK")
    command = parse_command(f"LENGKAPI SK pengangkatan terbaru\n{header}\n{QUOTED_REVIEW}")
    assert (command.action, command.argument) == ("request_docs", "SK pengangkatan terbaru")


@pytest.mark.parametrize("header", list(HEADERS.values()), ids=list(HEADERS))
def test_a_reply_starting_with_a_quote_header_is_never_guessed_at(header: str) -> None:
    assert parse_command(f"{header}\nSETUJU\n").action is None


def test_options_of_the_admins_own_block_are_still_read() -> None:
    reply = ("SETUJU\nPassword: Abc123def\nUser ID: budi.ppk\n\nTerima kasih.\nKirim ke pengirim: ya\n\n"
             + HEADERS["gmail_id"] + "\n> Password: Quoted123\n> User ID: orang.lain")
    command = parse_command(reply)
    assert (command.password, command.user_id, command.send_to_sender) == ("Abc123def", "budi.ppk", True)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("NIP salah On Wed, Nov 25, 2026 at 3:59 PM, bot@example.go.id wrote:", "NIP salah"),
        ("NIP salah--- On Wed, Nov 25, 2026 at 3:59 PM, bot@example.go.id wrote:", "NIP salah"),
        ("NIP salah Pada Rab, 25 Nov 2026 15.59 Bot <bot@example.go.id> menulis:", "NIP salah"),
        ("2 dokumen kurang On Wed, Nov 25, 2026 at 3:59 PM, bot@example.go.id wrote:", "2 dokumen kurang"),
        ("NIP 19710311 salah On Wed, Nov 25, 2026 at 3:59 PM, bot@example.go.id wrote:", "NIP 19710311 salah"),
    ],
)
def test_reason_glued_to_an_attribution_is_cut_there(line: str, reason: str) -> None:
    assert parse_command(f"TOLAK\n{line}\n> SETUJU").argument == reason
    assert parse_command(f"TOLAK {line}\n> SETUJU").argument == reason


@pytest.mark.parametrize(
    "header",
    [
        "On Mon, 24 Nov 2026, Le Minh <le@example.vn> wrote:",
        "24.11.2026 10:05, Le Minh <le@example.vn> пишет:",
        "ср, 25 нояб. 2026 г. в 15:59, Den Bot <bot@example.go.id>:",
    ],
)
def test_an_attribution_with_an_opener_inside_is_one_header(header: str) -> None:
    assert parse_command(f"TOLAK\nNIP salah\n{header}\n> SETUJU").argument == "NIP salah"
    assert new_text(f"SETUJU\n\n{header}\nPassword: Quoted123") == "SETUJU"


def test_keyword_glued_to_an_attribution_is_refused() -> None:
    command = parse_command("SETUJU On Wed, Nov 25, 2026 at 3:59 PM, bot@example.go.id wrote:\n> TOLAK x")
    assert command.action is None and command.error and "sendiri pada barisnya" in command.error


@pytest.mark.parametrize(
    "reply",
    [
        "TOLAK\nSK tahun 2024 sudah tidak berlaku\nOn Tue, Nov 24, 2026 at 10:05 AM Bot <bot@example.go.id> wrote:",
        "TOLAK\nSK tahun 2024 sudah tidak berlaku\nBot <bot@example.go.id> wrote:",
        "TOLAK\nSK tahun 2024 sudah tidak berlaku\n2026-11-24 10:05 GMT+07:00 Bot <bot@example.go.id>:",
    ],
)
def test_a_reason_line_above_an_attribution_is_not_taken_for_its_first_line(reply: str) -> None:
    assert parse_command(reply + "\n> SETUJU").argument == "SK tahun 2024 sudah tidak berlaku"


@pytest.mark.parametrize(
    "reply",
    [
        "SETUJU\nBerikut datanya:\nPassword: Abc123def",
        "SETUJU\nNama: Budi\nPassword: Abc123def",
        "SETUJU\nData: sudah dicek\nPassword: Abc123def",
        "SETUJU\nDari telepon tadi pagi, PPK sudah konfirmasi.\nPassword: Abc123def",
        "SETUJU\nCatatan: ditelepon 24/11/2026 10.05:\nPassword: Abc123def",
        "SETUJU\nNama: Budi\nNIP: 19710311 200604 1 004\nJabatan: PPK\nPassword: Abc123def",
        "SETUJU\nSudah dicek pada 24/11/2026:\nPassword: Abc123def",
    ],
)
def test_ordinary_lines_of_the_admin_do_not_end_the_block(reply: str) -> None:
    assert parse_command(reply).password == "Abc123def"


def test_a_reason_may_be_written_as_label_lines() -> None:
    reply = "TOLAK\nTanggal SK: 01/01/2024, sudah lewat\nNomor SK: 12/2024 tidak sesuai\n\nDari: Bot <b@x.go.id>"
    assert parse_command(reply).argument == "Tanggal SK: 01/01/2024, sudah lewat\nNomor SK: 12/2024 tidak sesuai"


def test_a_reason_may_span_lines_that_end_in_a_colon() -> None:
    command = parse_command("TOLAK\nAlasan penolakan per 24/11/2026:\nSK tidak berlaku\n\nOn x <b@x.go.id> wrote:")
    assert command.argument == "Alasan penolakan per 24/11/2026:\nSK tidak berlaku"


# --------------------------------------------------------------------------- HTML-only replies (point 1)


def _mail(parts: list[tuple[str, str]]) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Admin <admin@lpse.example.go.id>"
    msg["To"] = "mailbot@lpse.example.go.id"
    msg["Subject"] = "Re: [LPSE-BYS-2026-00042] Tinjauan, kode RV-7KQ2-M9XH-4TJ3-WP8N"
    msg["Message-ID"] = "<r1@lpse.example.go.id>"
    first_subtype, first_body = parts[0]
    msg.set_content(first_body, subtype=first_subtype, charset="utf-8")
    for subtype, body in parts[1:]:
        msg.add_alternative(body, subtype=subtype, charset="utf-8")
    return msg.as_bytes()


def _read(raw: bytes) -> tuple[ParsedMail, AdminCommand]:
    mail = parse_message(raw)
    return mail, parse_command(mail.text or "", mail.html)  # as cases.decisions.handle_admin_reply


@pytest.mark.parametrize(
    "html",
    [
        "<blockquote>SETUJU</blockquote>",
        "<div><br></div><blockquote type=\"cite\"><div>SETUJU</div></blockquote>",
        '<div class="gmail_quote"><div>SETUJU</div></div>',
        '<div dir="ltr"><br></div><div class="gmail_quote">On x wrote:<blockquote>SETUJU</blockquote></div>',
        '<div id="divRplyFwdMsg"><b>From:</b> Bot</div><div>SETUJU</div>',
        '<div>Baik, saya periksa dulu.</div><blockquote>SETUJU</blockquote>',
    ],
)
def test_html_only_reply_with_setuju_only_in_the_quote_is_no_decision(html: str) -> None:
    mail, command = _read(_mail([("html", html)]))
    assert mail.text_is_derived and "SETUJU" in mail.text  # intake still sees all the text
    assert command.action is None


def test_html_only_reply_reads_options_above_the_html_quote() -> None:
    html = ('<div>SETUJU</div><div>User ID: budi.ppk</div><div class="gmail_quote">On x wrote:<blockquote>'
            "<div>Password: Quoted123</div><div>User ID: orang.lain</div></blockquote></div>")
    _, command = _read(_mail([("html", html)]))
    assert (command.action, command.password, command.user_id) == ("approve", None, "budi.ppk")


def test_the_text_part_is_read_when_there_is_one() -> None:
    mail, command = _read(_mail([("plain", "TOLAK dari teks\n"), ("html", "<div>SETUJU</div>")]))
    assert not mail.text_is_derived
    assert (command.action, command.argument) == ("reject", "dari teks")


def test_derived_text_survives_pickling_for_the_prefetch_helper() -> None:
    mail = parse_message(_mail([("html", "<p>NIP 197103112006041004</p><blockquote>SETUJU</blockquote>")]))
    again = pickle.loads(pickle.dumps(mail))
    assert again.text_is_derived and again.text == mail.text and "197103112006041004" in again.text
    assert parse_command(again.text or "", again.html).action is None


def _readme_rows() -> list[tuple[str, str | None]]:
    rows = []
    for line in (FIXTURES / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].endswith(".eml"):
            rows.append((cells[0], None if cells[4] == "-" else cells[4]))
    return rows


def _html_only(raw: bytes) -> bytes | None:
    """The fixture as its client would send it without a text part (headers kept), or None without HTML."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    html = msg.get_body(preferencelist=("html",))
    if html is None:
        return None
    markup = html.get_content()
    for name in ("Content-Type", "Content-Transfer-Encoding", "MIME-Version"):
        del msg[name]
    msg.set_content(markup, subtype="html", charset="utf-8", cte="base64")
    return msg.as_bytes()


@pytest.mark.parametrize(("name", "expected"), _readme_rows())
def test_every_html_fixture_sent_html_only_gives_the_same_decision(name: str, expected: str | None) -> None:
    """tests/fixtures/replies through parse_message as HTML-only mail: the HTML quote cuts are used."""
    raw = (FIXTURES / name).read_bytes()
    html_only = _html_only(raw)
    if html_only is None:
        pytest.skip("no HTML part")
    mail, command = _read(html_only)
    assert mail.text_is_derived
    assert command.action == expected
    if expected is not None:
        _, original = _read(raw)
        assert command == original
