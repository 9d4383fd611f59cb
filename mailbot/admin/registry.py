"""The PPK registry: CSV import and listing."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mailbot.app import App
from mailbot.config import ConfigError
from mailbot.store.db import transaction
from mailbot.store.models import Ppk, utcnow

HEADER = ["nama", "nip", "email", "user_id", "satker"]


class RegistryError(ConfigError):
    """A bad registry file: exit 2 with the line that is wrong."""


def import_csv(app: App, path: Path) -> tuple[int, int]:
    """Insert or update by NIP; the whole file or nothing."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"registry: cannot read {path}: {exc}") from None
    sample = text[:2048]
    dialect = csv.Sniffer().sniff(sample, delimiters=",;") if sample.strip() else csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if fields[:5] != HEADER:
        raise RegistryError(f"registry: {path} header must be {','.join(HEADER)} (got {','.join(fields)})")
    added = updated = 0
    now = utcnow()
    with transaction(app.factory) as s:
        for raw in reader:
            lineno = reader.line_num  # the file's line where this record ends (blank lines, quoted newlines)
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
            nip = "".join(ch for ch in row["nip"] if ch.isdigit())
            if len(nip) != 18 or "@" not in row["email"]:
                raise RegistryError(f"registry: {path}:{lineno}: need an 18-digit nip and an email "
                                    f"(got nip={row['nip']!r} email={row['email']!r})")
            ppk = s.scalar(select(Ppk).where(Ppk.nip == nip))
            if ppk is None:
                ppk = Ppk(nip=nip)
                s.add(ppk)
                added += 1
            else:
                updated += 1
            ppk.nama, ppk.email = row["nama"], row["email"].lower()
            ppk.user_id, ppk.satker, ppk.updated_at = row["user_id"], row["satker"], now
    return added, updated


def list_registry(app: App) -> list[dict[str, Any]]:
    with transaction(app.factory) as s:
        return [p.as_dict() for p in s.scalars(select(Ppk).order_by(Ppk.nama))]
