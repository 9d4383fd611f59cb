"""The PPK registry: import (with a dry run), remove, deactivate and listing.

The registry says where credentials go, so a change of a PPK's address is shown before it is applied
(`--dry-run`), written to the audit trail with the old and the new address and who made it, and told
to every admin (`registry_changed`). An import is the whole file or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot.admin.registry_file import HEADER, RegistryError, Row, read_rows
from mailbot.app import App
from mailbot.cases.notify import base_context, queue_to_admins
from mailbot.store.audit import add_event
from mailbot.store.db import transaction
from mailbot.store.models import Case, Ppk, utcnow

__all__ = ["HEADER", "Change", "Plan", "RegistryError", "deactivate", "import_csv", "import_file",
           "list_registry", "read_rows", "remove"]

FIELDS = ("nama", "email", "user_id", "satker")


@dataclass(frozen=True)
class Change:
    """One entry the import adds, changes or removes; `fields`: name → (old, new)."""

    kind: str  # "add", "change", "remove" (deactivated: it stays for its cases)
    nip: str
    nama: str
    line: int | None = None
    fields: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def email_change(self) -> tuple[str, str] | None:
        """(old, new) address of an existing entry whose address changes — where credentials go."""
        return self.fields.get("email") if self.kind == "change" else None

    def describe(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        if self.kind == "add":
            return f"add     {self.nip}  {self.nama} <{self.fields['email'][1]}>{where}"
        if self.kind == "remove":
            return f"remove  {self.nip}  {self.nama}: deactivated (not in the file)"
        parts = [f"{k}: {old!r} -> {new!r}" for k, (old, new) in self.fields.items()]
        return f"change  {self.nip}  {self.nama}: {'; '.join(parts)}{where}"


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0

    def of(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def added(self) -> int:
        return len(self.of("add"))

    @property
    def updated(self) -> int:
        return len(self.of("change"))

    def summary(self) -> str:
        removed = f", {len(self.of('remove'))} deactivated" if self.of("remove") else ""
        return f"registry: {self.added} added, {self.updated} updated{removed}"


def _check_duplicates(path: Path, rows: list[Row]) -> None:
    """Within the file: one line per NIP and one NIP per email."""
    nips: dict[str, Row] = {}
    emails: dict[str, Row] = {}
    for row in rows:
        if row.nip in nips:
            raise RegistryError(f"registry: {path}:{row.line}: NIP {row.nip} is already on line "
                                f"{nips[row.nip].line}; each PPK once")
        if row.email in emails:
            other = emails[row.email]
            raise RegistryError(f"registry: {path}:{row.line}: email {row.email} is already on line {other.line} "
                                f"(NIP {other.nip}); credentials of two PPKs must not go to one address")
        nips[row.nip], emails[row.email] = row, row


def _plan(s: Session, path: Path, rows: list[Row], replace: bool) -> Plan:
    existing = {p.nip: p for p in s.scalars(select(Ppk))}
    in_file = {r.nip for r in rows}
    plan = Plan()
    for row in rows:
        ppk = existing.get(row.nip)
        new = {"nama": row.nama, "email": row.email, "user_id": row.user_id, "satker": row.satker}
        if ppk is None:
            plan.changes.append(Change("add", row.nip, row.nama, row.line, {k: ("", v) for k, v in new.items()}))
            continue
        diff = {k: (getattr(ppk, k), v) for k, v in new.items() if getattr(ppk, k) != v}
        if not ppk.active:
            diff["active"] = ("no", "yes")
        if diff:
            plan.changes.append(Change("change", row.nip, row.nama, row.line, diff))
        else:
            plan.unchanged += 1
    if replace:
        plan.changes += [Change("remove", p.nip, p.nama) for p in existing.values()
                         if p.nip not in in_file and p.active]
    # Against the registry: an address that stays with another active PPK is refused.
    staying = {p.email: p for p in existing.values()
               if p.nip not in in_file and p.active and not replace}
    for row in rows:
        other = staying.get(row.email)
        if other is not None:
            raise RegistryError(f"registry: {path}:{row.line}: email {row.email} is already registered for NIP "
                                f"{other.nip} ({other.nama}); change or deactivate that entry first")
    return plan


def import_file(app: App, path: Path, *, by: str, dry_run: bool = False, replace: bool = False,
                now: datetime | None = None) -> Plan:
    """Insert or update by NIP (with `replace`, active entries not in the file are deactivated); the
    whole file or nothing. `dry_run` computes the same plan and writes nothing."""
    path = Path(path)
    rows = read_rows(path)
    _check_duplicates(path, rows)
    now = now or utcnow()
    with transaction(app.factory) as s:
        plan = _plan(s, path, rows, replace)
        if dry_run:
            s.rollback()
            return plan
        _apply(s, app, plan, rows, by, now, source=path.name)
    return plan


def _apply(s: Session, app: App, plan: Plan, rows: list[Row], by: str, now: datetime, *, source: str) -> None:
    by_nip = {r.nip: r for r in rows}
    actor = f"cli:{by}"
    for change in plan.changes:
        ppk = s.scalar(select(Ppk).where(Ppk.nip == change.nip))
        if change.kind == "remove":
            assert ppk is not None
            ppk.active, ppk.updated_at = False, now
            add_event(s, None, actor, "registry_deactivated", now,
                      detail=f"NIP {ppk.nip} ({ppk.nama}, {ppk.email}): not in {source}")
            continue
        row = by_nip[change.nip]
        if ppk is None:
            ppk = Ppk(nip=row.nip)
            s.add(ppk)
        ppk.nama, ppk.email, ppk.user_id, ppk.satker = row.nama, row.email, row.user_id, row.satker
        ppk.active, ppk.updated_at = True, now
        detail = "; ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in change.fields.items())
        kind = {"add": "registry_added"}.get(change.kind, "registry_changed")
        if change.email_change:
            kind = "registry_email_changed"
        add_event(s, None, actor, kind, now, detail=f"NIP {row.nip} from {source}:{row.line}: {detail}")
    _tell_admins(s, app, [c for c in plan.changes if (c.kind == "change" and c.email_change) or c.kind == "remove"],
                 by, now)


def _tell_admins(s: Session, app: App, changes: list[Change], by: str, now: datetime) -> None:
    """Where credentials go changed (or a PPK was taken out): every admin gets `registry_changed`."""
    if not changes:
        return
    items = [{"nip": c.nip, "nama": c.nama, "kind": c.kind,
              "old_email": c.email_change[0] if c.email_change else "",
              "new_email": c.email_change[1] if c.email_change else ""} for c in changes]
    key = ("registry", now.isoformat(), *(f"{c.kind}:{c.nip}" for c in changes))
    queue_to_admins(s, app, None, "registry_changed", base_context(app, now) | {"changes": items, "by": by}, key, now)


def _entry(s: Session, nip: str) -> Ppk:
    digits = "".join(ch for ch in nip if ch.isdigit())
    ppk = s.scalar(select(Ppk).where(Ppk.nip == digits)) if len(digits) == 18 else None
    if ppk is None:
        raise RegistryError(f"registry: NIP {nip} is not in the registry (see `mailbot registry list`)")
    return ppk


def deactivate(app: App, nip: str, *, by: str, now: datetime | None = None) -> dict[str, Any]:
    """The PPK stays for the cases that name it, but matches no new request and gets no credentials."""
    now = now or utcnow()
    with transaction(app.factory) as s:
        ppk = _entry(s, nip)
        if not ppk.active:
            raise RegistryError(f"registry: NIP {ppk.nip} is already inactive")
        ppk.active, ppk.updated_at = False, now
        add_event(s, None, f"cli:{by}", "registry_deactivated", now,
                  detail=f"NIP {ppk.nip} ({ppk.nama}, {ppk.email})")
        _tell_admins(s, app, [Change("remove", ppk.nip, ppk.nama)], by, now)
        return ppk.as_dict() | {"active": False}


def remove(app: App, nip: str, *, by: str, now: datetime | None = None) -> dict[str, Any]:
    """Delete an entry no case names; one that a case names can only be deactivated (the case keeps it)."""
    now = now or utcnow()
    with transaction(app.factory) as s:
        ppk = _entry(s, nip)
        used = s.scalar(select(func.count()).select_from(Case).where(Case.ppk_id == ppk.id)) or 0
        if used:
            raise RegistryError(f"registry: NIP {ppk.nip} is named by {used} case(s) and stays on record; "
                                f"use `mailbot registry deactivate {ppk.nip}`")
        entry = ppk.as_dict()
        s.delete(ppk)
        add_event(s, None, f"cli:{by}", "registry_removed", now,
                  detail=f"NIP {entry['nip']} ({entry['nama']}, {entry['email']})")
        _tell_admins(s, app, [Change("remove", entry["nip"], entry["nama"])], by, now)
        return entry


def import_csv(app: App, path: Path) -> tuple[int, int]:
    """Import a registry file as the tests, the demo and the benchmarks set one up: (added, updated)."""
    plan = import_file(app, path, by="setup")
    return plan.added, plan.updated


def list_registry(app: App, *, include_inactive: bool = True) -> list[dict[str, Any]]:
    with transaction(app.factory) as s:
        query = select(Ppk).order_by(Ppk.nama)
        if not include_inactive:
            query = query.where(Ppk.active.is_(True))
        return [p.as_dict() | {"active": p.active} for p in s.scalars(query)]
