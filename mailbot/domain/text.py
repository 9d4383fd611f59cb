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
