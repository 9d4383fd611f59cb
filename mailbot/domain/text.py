"""Header text decoded (charsets, RFC 2047 words, raw 8-bit bytes), safe file names, strict Message-IDs."""

from __future__ import annotations

import binascii
import re
import unicodedata

# Labels that lie about their repertoire in practice: decode with the superset
# a real mail client would use, so "GB2312" mail written by GBK software reads.
_CHARSET_UPGRADES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-2022-jp": "iso2022_jp_ext",
}


def decode_bytes(data: bytes, charset: str | None, defects: list[str] | None = None,
                  where: str = "text") -> str:
    """Decode with the declared charset, then utf-8, then latin-1 (which never fails)."""
    declared = (charset or "").strip().strip('"').lower()
    candidates = [c for c in (_CHARSET_UPGRADES.get(declared, declared), "utf-8") if c]
    for candidate in candidates:
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeError, ValueError, TypeError):
            continue
    if defects is not None:
        defects.append(f"{where}: charset {declared or 'none'!r} did not decode; used latin-1")
    return data.decode("latin-1")


def fix_8bit(value: str) -> str:
    """Undo the surrogateescape of raw 8-bit header bytes: utf-8 first, then latin-1."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def _encoded_word_bytes(encoding: str, text: str) -> bytes | None:
    """Bytes of one RFC 2047 encoded word, or None if it is not decodable."""
    try:
        if encoding.lower() == "q":
            return binascii.a2b_qp(text.encode("ascii"), header=True)
        padded = text + "=" * (-len(text) % 4)
        return binascii.a2b_base64(padded.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words; adjacent words of one charset are joined before decoding."""
    pieces: list[tuple[str, bytes | str]] = []  # (charset or "", bytes) or ("", literal str)
    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        literal = value[pos:match.start()]
        payload = _encoded_word_bytes(match.group(2), match.group(3))
        if payload is None:
            pieces.append(("", value[pos:match.end()]))
            pos = match.end()
            continue
        # Whitespace between two encoded words is folding, not content (RFC 2047 §6.2).
        if literal and not (literal.isspace() and pieces and isinstance(pieces[-1][1], bytes)):
            pieces.append(("", literal))
        charset = match.group(1).split("*", 1)[0]  # RFC 2231 language suffix
        if pieces and isinstance(pieces[-1][1], bytes) and pieces[-1][0] == charset:
            pieces[-1] = (charset, pieces[-1][1] + payload)  # a character may span two words
        else:
            pieces.append((charset, payload))
        pos = match.end()
    if not pieces:
        return value
    pieces.append(("", value[pos:]))
    return "".join(decode_bytes(p, c) if isinstance(p, bytes) else p for c, p in pieces)


def decode_header_value(raw: object) -> str:
    """Decoded, unfolded header value: 8-bit bytes fixed, RFC 2047 words decoded."""
    text = fix_8bit(str(raw))
    text = re.sub(r"\r?\n(?=[ \t])", "", text).replace("\r", "").replace("\n", " ")
    return decode_words(text).strip()


def collapse(text: str) -> str:
    return " ".join(text.split())


_RESERVED_CHARS = re.compile(r'[<>:"|?*]')


_WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                    *(f"lpt{i}" for i in range(1, 10))}


_MAX_FILENAME = 150


def sanitize_filename(name: str, fallback: str = "lampiran") -> str:
    """A safe display/file name: no directories, control or reserved characters, <= 150 chars, never empty."""
    text = unicodedata.normalize("NFC", decode_words(fix_8bit(str(name or ""))))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    # Cc = control characters, Cf = format characters such as U+202E (right-to-left
    # override), which can disguise "fdp.exe" as "exe.pdf" in a listing.
    text = "".join(" " if ch.isspace() else ch for ch in text
                   if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf"))
    text = collapse(_RESERVED_CHARS.sub("", text))
    text = text.lstrip(". ").rstrip(". ")
    if text.split(".", 1)[0].lower() in _WINDOWS_DEVICES:
        text = "_" + text
    if len(text) > _MAX_FILENAME:
        stem, dot, ext = text.rpartition(".")
        if dot and stem and 0 < len(ext) <= 16 and " " not in ext:
            text = stem[: _MAX_FILENAME - len(ext) - 1].rstrip(". ") + "." + ext
        else:
            text = text[:_MAX_FILENAME].rstrip(". ")
    if not text or text in (".", ".."):
        return sanitize_filename(fallback, "lampiran") if fallback and fallback != name else "lampiran"
    return text


_ID_TOKEN = re.compile(r"<([^<>\s]+)>")


def _valid_id_core(core: str) -> bool:
    local, at, domain = core.rpartition("@")
    return bool(at and local and domain) and len(core) <= 995


def normalize_message_id(value: str | None) -> str | None:
    """The first "<local@domain>" in `value`, with whitespace removed; None if missing or garbage."""
    ids = message_ids(value)
    return ids[0] if ids else None


def message_ids(value: str | None) -> list[str]:
    """All message-ids in a header value (References, In-Reply-To), normalised, in order."""
    if not value:
        return []
    text = fix_8bit(str(value))
    # Folded ids ("<abc\r\n def@x>") occur; angle-bracketed ids never contain whitespace.
    unfolded = re.sub(r"<([^<>]*)>", lambda m: "<" + "".join(m.group(1).split()) + ">", text)
    found = [core for core in _ID_TOKEN.findall(unfolded) if _valid_id_core(core)]
    if not found and "<" not in unfolded:
        found = [tok for tok in unfolded.split() if _valid_id_core(tok) and "(" not in tok]
    return [f"<{core}>" for core in found]


# -- OCR text, normalised for matching phrases --------------------------------------------------
# Scanned pages come back from OCR with line breaks anywhere, words hyphenated at line ends,
# letter-spaced headings ("M E M U T U S K A N"), specks read as punctuation and a few classic
# confusions inside words (0 for o, 1 or | for l, 5 for s). `ocr_normal` undoes what can be undone
# without guessing; the kinds' patterns (domain/kinds.py) tolerate the rest (i/l, rn/m).
_SOFT_HYPHEN_AND_ZERO_WIDTH = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_DASHES = re.compile("[\u2010\u2011\u2012\u2013\u2014\u2212]")
_LINE_END_HYPHEN = re.compile(r"([^\W\d_])[-¬]\s*\n\s*(?=[^\W\d_])")
# Specks and stray marks that never carry meaning in the phrases matched: they become spaces.
_NOISE = re.compile(r"[~^*_`'\"|«»<>{}\[\]=+#@$%&\\\u2018\u2019\u201a\u201c\u201d\u201e\u2022\u00b7]")
# Runs of at least three single letters separated by one space: a letter-spaced heading (two or more
# spaces there are the gap between its words).
_SPACED_LETTERS = re.compile(r"(?<!\S)(?:[^\W\d_] ){2,}[^\W\d_](?!\S)")
_BAR_IN_WORD = re.compile(r"(?<=[^\W\d_])[|!](?=[^\W\d_])")
_DIGIT_AS_LETTER = str.maketrans({"0": "o", "1": "l", "5": "s", "8": "b", "|": "l"})


def _letters_for_digits(token: str) -> str:
    """Inside a word that is mostly letters, a digit is a misread letter ("K0MITMEN", "5K")."""
    letters = sum(ch.isalpha() for ch in token)
    digits = sum(ch.isdigit() for ch in token)
    if not digits or letters < digits:
        return token
    return token.translate(_DIGIT_AS_LETTER)


def ocr_normal(text: str) -> str:
    """`text` (a text layer or OCR output) in one canonical form for matching phrases: NFKC, lower
    case, words hyphenated at a line end joined, letter-spaced words closed up, noise marks and all
    whitespace reduced to single spaces, digits inside mostly-letter words read as letters."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _SOFT_HYPHEN_AND_ZERO_WIDTH.sub("", text)
    text = _DASHES.sub("-", text).replace("\r", "\n")
    text = _LINE_END_HYPHEN.sub(r"\1", text)
    text = _BAR_IN_WORD.sub("l", text)
    text = _NOISE.sub(" ", text)
    text = re.sub(r"[\t\f\v\u00a0]", " ", text)
    text = _SPACED_LETTERS.sub(lambda m: m.group(0).replace(" ", ""), text)
    words = [_letters_for_digits(token) for token in text.split()]
    return " ".join(words).casefold()
