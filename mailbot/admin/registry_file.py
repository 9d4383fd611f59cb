"""Reading a registry file as it comes from an office: CSV from Excel or a text editor, or `.xlsx`.

CSV: `;`, `,` or tab as the delimiter (whichever the header line uses), UTF-8 with or without a BOM,
UTF-16 with a BOM (Excel's "Unicode Text"), else Windows-1252 (Excel's "CSV (Comma delimited)" on a
Western Windows). `.xlsx`: the first sheet, through openpyxl (imported only here, only for such a file).
Every problem is a RegistryError of one line naming the file and the row."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailbot.config import ConfigError

HEADER = ["nama", "nip", "email", "user_id", "satker"]
_EMAIL = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")
_SCIENTIFIC = re.compile(r"^\s*\d+([.,]\d+)?[eE][+]?\d+\s*$")


class RegistryError(ConfigError):
    """A bad registry file or registry command: exit 2 with one line saying what is wrong and where."""


@dataclass(frozen=True)
class Row:
    """One PPK of the file, with the line (CSV) or row (xlsx) it is on."""

    line: int
    nama: str
    nip: str
    email: str
    user_id: str
    satker: str


def decode(data: bytes, path: Path) -> str:
    """The text of a CSV file in whichever encoding Excel or an editor wrote it."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    else:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "cp1252"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise RegistryError(f"registry: {path}:{line}: the file is neither UTF-8 nor Windows-1252 text; "
                            "save it from Excel as \"CSV UTF-8\" or as .xlsx") from None


def _delimiter(text: str) -> str:
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts = {d: first.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


Records = tuple[int, list[str], list[tuple[int, list[str]]]]  # header line, header, (line, values)


def _csv_records(text: str) -> Records:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    header: list[str] | None = None
    header_line = 1
    records: list[tuple[int, list[str]]] = []
    for values in reader:
        if header is None:
            if any(v.strip() for v in values):
                header, header_line = values, reader.line_num
            continue
        records.append((reader.line_num, values))  # the line where this record ends
    return header_line, header or [], records


def _xlsx_records(path: Path) -> Records:
    try:
        import openpyxl  # the only openpyxl user

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # a damaged or password-protected workbook: say so in one line
        raise RegistryError(f"registry: {path}: cannot read the workbook ({type(exc).__name__}: {exc})") from None
    try:
        ws = wb.worksheets[0]
        header: list[str] | None = None
        header_line = 1
        records: list[tuple[int, list[str]]] = []
        for number, cells in enumerate(ws.iter_rows(values_only=True), start=1):
            values = [_cell_text(path, number, v) for v in cells]
            if header is None:
                if any(v.strip() for v in values):
                    header, header_line = values, number
                continue
            records.append((number, values))
        return header_line, header or [], records
    finally:
        wb.close()


def _cell_text(path: Path, row: int, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        raise RegistryError(f"registry: {path}:{row}: a number {value!r} lost digits in Excel; format the "
                            "NIP column as Text and type the 18 digits again")
    return str(value)


def read_rows(path: Path) -> list[Row]:
    """The PPKs of a registry file, in file order; blank rows skipped. RegistryError on the first problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RegistryError(f"registry: cannot read {path}: {exc.strerror or exc}") from None
    if path.suffix.lower() in (".xlsx", ".xlsm") or data.startswith(b"PK\x03\x04"):
        header_line, header, records = _xlsx_records(path)
    else:
        header_line, header, records = _csv_records(decode(data, path))
    fields = [h.strip().lower().lstrip("\ufeff") for h in header]
    while fields and not fields[-1]:
        fields.pop()
    if fields[:5] != HEADER:
        raise RegistryError(f"registry: {path}:{header_line}: header must be {','.join(HEADER)} "
                            f"(got {','.join(fields)})")
    rows = []
    for line, values in records:
        if not any(v.strip() for v in values):
            continue
        cells = {name: (values[i].strip() if i < len(values) else "") for i, name in enumerate(HEADER)}
        rows.append(_row(path, line, cells))
    return rows


def _row(path: Path, line: int, cells: dict[str, str]) -> Row:
    raw_nip = cells["nip"]
    if _SCIENTIFIC.match(raw_nip):
        raise RegistryError(f"registry: {path}:{line}: NIP {raw_nip!r} was turned into a number by Excel; "
                            "format the NIP column as Text and type the 18 digits again")
    nip = "".join(ch for ch in raw_nip if ch.isdigit())
    email = cells["email"].lower()
    if len(nip) != 18 or not _EMAIL.match(email):
        raise RegistryError(f"registry: {path}:{line}: need an 18-digit nip and an email "
                            f"(got nip={raw_nip!r} email={cells['email']!r})")
    if not cells["nama"]:
        raise RegistryError(f"registry: {path}:{line}: the nama of NIP {nip} is empty")
    return Row(line=line, nama=cells["nama"], nip=nip, email=email, user_id=cells["user_id"],
               satker=cells["satker"])
