"""Recognising the start of the quoted part of a reply, line by line: attributions, header blocks, separators."""

from __future__ import annotations

import re

# --------------------------------------------------------------------------- header blocks (Outlook & co.)

# Label (lower case, without "*", "_" and spaces around the colon) -> kind. Outlook, OWA, Gmail forwards,
# webmails and mobile clients, in the languages of the reply corpus and of Indonesian offices.
_LABELS: dict[str, str] = {}
for _kind, _words in {
    "from": "from|dari|de|von|van|da|fra|från|od|от|lähettäjä|feladó|mittente|remetente|expéditeur|"
            "afzender|avsändare|nadawca|kimden|发件人|寄件者|差出人|từ",
    "date": "sent|date|dikirim|terkirim|tanggal|waktu|envoyé|envoyé le|gesendet|datum|enviado|enviada|fecha|"
            "inviato|data|verzonden|sendt|dato|skickat|wysłano|wysłane|отправлено|дата|lähetetty|"
            "päivämäärä|elküldve|odesláno|gönderildi|tarih|message du|发送时间|日期|送信日時|gửi lúc",
    "to": "to|kepada|untuk|à|a|an|para|aan|til|till|do|кому|vastaanottaja|címzett|komu|kime|收件人|宛先|đến",
    "cc": "cc|bcc|tembusan|copie à|kopie|kopia|копия|kopio|másolat|bilgi|抄送",
    "subject": "subject|subjek|perihal|hal|judul|objet|betreff|asunto|oggetto|onderwerp|emne|ämne|temat|"
               "тема|aihe|tárgy|předmět|konu|assunto|主题|件名|chủ đề",
    "reply-to": "reply-to|reply to|risposta|antwort an|balas ke|responder a",
}.items():
    for _word in _words.split("|"):
        _LABELS[_word] = _kind

_LABEL_LINE_RE = re.compile(r"^[\s>]*[*_]*\s*(?P<label>[^\W\d_][\w'’ .-]{0,30}?)\s*[*_]*\s*:(?!//)[*_]*\s*(?P<value>.*)$")


_LONGEST_LINE = 1000


def _too_long(line: str) -> bool:
    """A quote header is a short line: longer ones are never examined (and never cost more than a glance)."""
    return len(line) > _LONGEST_LINE


def _label_kind(line: str) -> str | None:
    """The header kind of a "Label: value" line ("From:", "*Dari:*", "De :", "Envoyé le :"), or None."""
    if _too_long(line):
        return None
    match = _LABEL_LINE_RE.match(line)
    if not match:
        return None
    return _LABELS.get(" ".join(match["label"].lower().split()))


_INLINE_LABEL_RE = re.compile(r"\s[*_]*(?:sent|date|to|subject|dikirim|kepada|perihal|subjek|envoyé|objet|"
                              r"gesendet|an|betreff|enviado|para|asunto|inviato|oggetto|verzonden|aan|onderwerp|"
                              r"sendt|til|emne|skickat|till|ämne)[*_]*\s*:", re.IGNORECASE)


def header_block_span(lines: list[str], index: int) -> int:
    """Lines spanned by a mail-header block ("From:/Sent:/To:/Subject:", "Dari:/Dikirim:/Kepada:/Perihal:",
    "Van:/Verzonden:/Aan:", "Date:/From:/To:", ...) starting at lines[index]; 0 when there is none.

    The block starts with a From or Date label and has a second, different label within the next few
    lines (wrapped values such as "<long-address@example.com>" may sit between them)."""
    first = _label_kind(lines[index])
    if first not in ("from", "date"):
        return 0
    if first == "from" and len(_INLINE_LABEL_RE.findall(lines[index])) >= 1:
        return 1  # the whole block flattened onto one line
    kinds, last, seen = {first}, index, 0
    for position in range(index + 1, min(len(lines), index + 10)):
        line = lines[position]
        if not line.strip():
            continue
        kind = _label_kind(line)
        if kind is not None:
            kinds.add(kind)
            last = position
        seen += 1
        if seen >= 6:
            break
    return last - index + 1 if len(kinds) >= 2 else 0


# --------------------------------------------------------------------------- separators

_SEPARATOR_WORDS = (
    "original message|pesan asli|pesan awal|forwarded message|pesan terusan|pesan yang diteruskan|"
    "message d'origine|message original|message transféré|ursprüngliche nachricht|weitergeleitete nachricht|"
    "mensaje original|mensaje reenviado|mensagem original|mensagem encaminhada|messaggio originale|"
    "messaggio inoltrato|oorspronkelijk bericht|origineel bericht|doorgestuurd bericht|oprindelig meddelelse|"
    "oprindelig besked|videresendt meddelelse|opprinnelig melding|videresendt melding|ursprungligt meddelande|"
    "vidarebefordrat meddelande|wiadomość oryginalna|oryginalna wiadomość|przekazana wiadomość|"
    "alkuperäinen viesti|välitetty viesti|исходное сообщение|пересылаемое сообщение|původní zpráva|"
    "eredeti üzenet|reply message"
)

_SEPARATOR_RE = re.compile(
    rf"^[\s*_]*(?:(?:-{{2,}}|={{2,}}|_{{2,}})\s*(?:{_SEPARATOR_WORDS})\s*(?:-{{2,}}|={{2,}}|_{{2,}})?"
    rf"|(?:{_SEPARATOR_WORDS})\s*(?:-{{2,}}|={{2,}}|_{{2,}})"
    r"|_{10,}"
    r"|(?:begin forwarded message|awal pesan yang diteruskan|anfang der weitergeleiteten nachricht|"
    r"début du message réexpédié|inicio del mensaje reenviado|início da mensagem reencaminhada)\s*:)"
    r"[\s*_]*:?\s*$",
    re.IGNORECASE,
)


def is_separator(line: str) -> bool:
    """A line that introduces a quoted or forwarded mail ("-----Original Message-----", "----- Pesan Asli -----",
    "*-------- Original Message --------*", "________________", "Begin forwarded message:")."""
    return not _too_long(line) and bool(_SEPARATOR_RE.match(line))


# A line of nothing but rule characters: "-----", "=====", "______", "***", "~~~~", "—".
_RULE_RE = re.compile(r"^\s*(?:[-_=*~#+\u2014\u2013]{3,}|[\u2014\u2013\u2015\u2500]+)\s*$")


# --------------------------------------------------------------------------- attributions ("On … wrote:")

_VERB = (
    r"wrote|writes|menulis|pisze|a\s+écrit|écrit|schrieb|schreibt|schreef|geschreven|escribió|escreveu|"
    r"ha\s+scritto|scrisse|skrev|skriver|napisał(?:\(a\))?|napisała|napisal|kirjoitti|написал(?:\(а\))?|"
    r"написала|пишет|napsal(?:\(a\))?|írta|yazdı|a\s+scris|έγραψε|写道|寫道|のメッセージ"
)
_VERB_RE = re.compile(rf"(?<![\w])(?:{_VERB})(?![\w])", re.IGNORECASE)
# The last word of each verb above (what an attribution without a colon ends with: "On … wrote").
_VERB_LAST_WORDS = frozenset(
    "wrote writes menulis pisze écrit schrieb schreibt schreef geschreven escribió escreveu scritto "
    "scrisse skrev skriver napisał napisał(a) napisała napisal kirjoitti написал написал(а) написала пишет "
    "napsal napsal(a) írta yazdı scris έγραψε".split()
)


def _ends_with_verb(text: str) -> bool:
    tail = text[-40:].rstrip(" :").lower()
    return tail.rsplit(" ", 1)[-1] in _VERB_LAST_WORDS or tail.endswith(("写道", "寫道", "のメッセージ"))


_OPENER_RE = re.compile(
    r"^(?:on|pada|le|am|el|em|op|il|in\s+data|w\s+dniu|dnia|den|på|dne|d\.|el\s+día|ngày)\s", re.IGNORECASE
)

_MONTHS = (
    r"jan|feb|mar|apr|may|mei|jun|jul|aug|agu|agt|sep|oct|okt|nov|dec|des|janv|févr|mars|avr|mai|juin|juil|"
    r"août|sept|déc|januar|februar|märz|dezember|enero|febrero|marzo|abril|mayo|junio|julio|agosto|"
    r"septiembre|octubre|noviembre|diciembre|gennaio|febbraio|maggio|giugno|luglio|settembre|ottobre|"
    r"dicembre|stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|września|października|listopada|"
    r"grudnia|tammikuuta|helmikuuta|maaliskuuta|huhtikuuta|toukokuuta|kesäkuuta|heinäkuuta|elokuuta|"
    r"syyskuuta|lokakuuta|marraskuuta|joulukuuta|янв|фев|мар|апр|мая|июн|июл|авг|сен|окт|ноя|дек|"
    r"januari|februari|maret|april|juni|juli|agustus|september|oktober|november|desember"
)
_DATE_RE = re.compile(
    rf"\d{{1,2}}[:.]\d{{2}}(?:\D|$)|\d{{1,4}}[-/.]\d{{1,2}}[-/.]\d{{1,4}}|(?<![\w])(?:19|20)\d\d(?![\w])"
    rf"|\d{{1,2}}\.?\s+(?:{_MONTHS})|(?<![\w])(?:{_MONTHS})\.?\s+\d{{1,2}}",
    re.IGNORECASE,
)
_ADDRESS_RE = re.compile(r"@[\w-]+\.|<[^<>\s]*@|\bmailto:", re.IGNORECASE)

# Ends with an address (or a quoted name) and a colon: "… <bob@example.com>:", "… bob@example.com:".
_ADDRESS_COLON_END_RE = re.compile(r"(?:>|@[\w.-]+|\)|\")\s*:\s*$")
# Gmail's date-first forms: "2011/4/7 Nathan <support@example.com>", "2016-03-03 17:21 GMT+01:00 Some One".
_DATE_FIRST_RE = re.compile(
    r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?\s+(?:GMT[+-]\d{1,2}:?\d{2}\s+\S.*|"
    r".*<[^<>\s]+@[^<>\s]+>\s*:?)$",
    re.IGNORECASE,
)


_LONGEST_ATTRIBUTION = 400  # characters, after joining a wrapped one


def _undecorate(text: str) -> str:
    """Without the decorations around an attribution: Zoho's "---- On … wrote ----", "------On … wrote-----",
    bold "*On … wrote:*"."""
    return text.strip(" \t*_-")


def is_attribution(text: str) -> bool:
    """Whether `text` (one line, or a wrapped attribution joined with spaces) introduces a quote.

    "On … wrote:" and its forms in other languages ("Pada … menulis:", "Le … a écrit :", "Am … schrieb …:",
    "Op … schreef …:", "In data … ha scritto:", "W dniu … napisał:", "Den … skrev:", "… kirjoitti:"),
    "X <x@y> wrote:", and the date-first lines of Gmail and mail.ru ("ср, 30 апр. 2025 г. в 15:19, X <x@y>:",
    "2017-11-24 16:32 GMT+01:00 X <x@y>:", "2011/4/7 X <x@y>")."""
    if len(text) > _LONGEST_ATTRIBUTION * 2:
        return False
    text = _undecorate(" ".join(text.split()))
    if not text or len(text) > _LONGEST_ATTRIBUTION:
        return False
    colon, tail = text.endswith(":"), text[-60:]
    verb_end = _ends_with_verb(text)
    if not (colon or verb_end or text[0].isdigit()):
        return False  # every form ends in ":" or a verb, or starts with a date
    if text[0].isdigit() and _DATE_FIRST_RE.match(text):
        return True
    has_date = bool(_DATE_RE.search(text))
    has_address = bool(_ADDRESS_RE.search(text))
    if not (has_date or has_address):
        return False
    verb = verb_end or (colon and bool(_VERB_RE.search(text)))
    if verb and (_OPENER_RE.match(text) or colon):
        return True
    return has_date and bool(_ADDRESS_COLON_END_RE.search(tail)) and (has_address or "," in text)


def _can_start_attribution(line: str) -> bool:
    text = _undecorate(line.strip())
    return bool(_OPENER_RE.match(text) or _ADDRESS_RE.search(text) or re.match(r"^(?:\d|\w+[,.]?\s+\d)", text))


_WEEKDAY_FIRST_RE = re.compile(r"^\w{1,3}[,.]?\s+\d{1,2}[.,\s]")  # "ср, 30 апр.", "wt., 24 lis", "pe 20. loka…"


def _strong_start(line: str) -> bool:
    """Opens an attribution by itself: "On …", "Pada …", a date or a weekday first ("2017-11-24 …", "ср, 30 …")."""
    text = _undecorate(line.strip())
    return bool(_OPENER_RE.match(text) or _DATE_RE.match(text)
                or (_WEEKDAY_FIRST_RE.match(text) and _DATE_RE.search(text)))


def attribution_span(lines: list[str], index: int) -> int:
    """0, or how many lines (1 to 5) an attribution starting at lines[index] spans (clients wrap long ones).

    A line that does not open an attribution by itself (an opener, a date or a weekday first) is not
    taken as the first line of a wrapped one that could start on the next line, so a reason line just
    above "On … wrote:" or "X <x@y> wrote:" stays the admin's."""
    line = lines[index]
    if _too_long(line) or not line.strip() or line.lstrip().startswith(">") or not _can_start_attribution(line):
        return 0
    joined, found = "", 0
    for span in range(1, 6):
        position = index + span - 1
        if position >= len(lines) or not lines[position].strip() or lines[position].lstrip().startswith(">"):
            return 0
        joined += " " + lines[position]
        if is_attribution(joined):
            found = span
            break
    if found >= 2 and not _strong_start(line) and attribution_span(lines, index + 1):
        return 0  # the attribution starts on the next line; this one is the admin's
    return found


# Where a client glued the attribution to the end of the reply's last line: "reply On … wrote:",
# "reply--- On … wrote:".
_INLINE_OPENER_RE = re.compile(
    r"(?:\s+|-{2,}\s*)(?=(?:on|pada|le|am|el|em|op|il|in\s+data|w\s+dniu|den|på)\s)", re.IGNORECASE
)


def cut_inline_attribution(line: str) -> tuple[str, bool]:
    """(the line before an attribution glued onto its end, whether one was found).

    "NIP salah On Wed, … wrote:" gives ("NIP salah", True); a line that is an attribution from its start
    ("On Mon, 24 Nov 2026, Le Minh <le@x.vn> wrote:") is not cut."""
    for match in _INLINE_OPENER_RE.finditer(line, max(0, len(line) - _LONGEST_ATTRIBUTION - 10)):
        head = line[: match.start()].rstrip()
        if head.strip() and not _strong_start(head) and is_attribution(line[match.end():]):
            return head, True
    return line, False


# --------------------------------------------------------------------------- the two questions


def quote_header_span(lines: list[str], index: int) -> int:
    """Lines spanned by a recognised quote header at lines[index] (separator, header block, attribution); 0 if none."""
    line = lines[index]
    if _too_long(line) or not line.strip():
        return 0
    if is_separator(line):
        return 1
    return header_block_span(lines, index) or attribution_span(lines, index)


_OPTION_LABELS = re.compile(
    r"^(?:password|kata\s+sandi|user\s*-?\s*id|id\s+pengguna|catatan|note|kirim\s+ke\s+pengirim|send\s+to\s+sender)$",
    re.IGNORECASE,
)
_TIME_RE = re.compile(r"(?<!\d)\d{1,2}[:.]\d{2}(?!\d)")


def _label(line: str) -> tuple[str, str] | None:
    """(label, value) of a "Label: value" line with a label of at most three words, or None."""
    if _too_long(line):
        return None
    match = _LABEL_LINE_RE.match(line)
    if not match or len(match["label"].split()) > 3:
        return None
    return " ".join(match["label"].split()), match["value"].strip()


def _is_option(line: str) -> bool:
    found = _label(line)
    return found is not None and bool(_OPTION_LABELS.match(found[0]))


def _header_like(line: str) -> bool:
    found = _label(line)
    return found is not None and bool(found[1]) and not _OPTION_LABELS.match(found[0])


def _mail_header_run(run: list[str]) -> bool:
    """Whether "Label: value" lines read as mail headers: an address in them, or a known label and a date."""
    if any(_ADDRESS_RE.search(line) for line in run):
        return True
    return any(_label_kind(line) for line in run) and any(_DATE_RE.search(line) for line in run)


def looks_like_quote_header(lines: list[str], index: int) -> bool:
    """Whether lines[index] looks like the start of a quote, recognised or not: a recognised header, a rule or
    separator line, an attribution-like line ending in ":" (with an address, a time, or a "wrote" verb and a
    date), or a run of "Label: value" lines that reads as mail headers (an Outlook block in a language not
    listed above). Option lines ("Password:", "Catatan:", ...) are never a header."""
    line = lines[index]
    if _too_long(line) or not line.strip() or _is_option(line):
        return False
    if quote_header_span(lines, index) or _RULE_RE.match(line):
        return True
    stripped = _undecorate(line.strip())
    if stripped.endswith(":") and not _header_like(line) and (
        _ADDRESS_RE.search(stripped) or _TIME_RE.search(stripped)
        or (_VERB_RE.search(stripped) and _DATE_RE.search(stripped))
    ):
        return True
    if not _header_like(line):
        return False
    run = [line]
    for following in lines[index + 1 : index + 6]:
        if not _header_like(following):
            break
        run.append(following)
    return len(run) >= 2 and _mail_header_run(run)
