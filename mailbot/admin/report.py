"""The monthly SOP compliance report (HTML, CSV) from the SLA records."""

from __future__ import annotations

import csv
import io
import re
import statistics
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mailbot.app import App
from mailbot.domain.states import REQUEST_TYPE_LABELS, CaseStatus
from mailbot.outgoing.render import REPORT_TEMPLATE, Renderer
from mailbot.store.blobs import write_atomic
from mailbot.store.db import transaction
from mailbot.store.models import Case, SlaRecord

FORMATS = ("html", "csv")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")

STATUS_LABELS = {
    "RECEIVED": "Diterima", "AWAITING_DOCUMENTS": "Menunggu dokumen", "AWAITING_REVIEW": "Menunggu tinjauan",
    "APPROVED": "Disetujui (kredensial belum terkirim)", "COMPLETED": "Selesai", "REJECTED": "Ditolak",
    "EXPIRED": "Kedaluwarsa",
}
CHANNEL_LABELS = {"email": "Email", "hardcopy": "Hardcopy (datang langsung)"}
OUTCOMES = ("approved", "rejected", "expired", "open")
OUTCOME_LABELS = {"approved": "Disetujui", "rejected": "Ditolak", "expired": "Kedaluwarsa",
                  "open": "Masih berjalan"}
STEP_LABELS = {
    "step2_completeness": "Langkah 2 — pemeriksaan kelengkapan",
    "step3_request_documents": "Langkah 3 — permintaan kelengkapan dokumen",
    "step5_validity": "Langkah 5 — pemeriksaan keabsahan oleh Admin",
    "step6_reset": "Langkah 6 — reset password / informasi user ID",
    "step7_rejection": "Langkah 7 — pemberitahuan penolakan",
    "step8_notify": "Langkah 8 — pengiriman hasil ke PPK",
}
MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
             "Oktober", "November", "Desember")


def outcome_of(status: str) -> str:
    if status in (CaseStatus.APPROVED.value, CaseStatus.COMPLETED.value):
        return "approved"
    if status == CaseStatus.REJECTED.value:
        return "rejected"
    if status == CaseStatus.EXPIRED.value:
        return "expired"
    return "open"


@dataclass(frozen=True)
class StepStats:
    step: str
    label: str
    standard_minutes: int
    count: int
    median_minutes: float | None
    max_minutes: float | None
    within_standard: int
    share_within: float | None  # 0..1, None when no record


@dataclass(frozen=True)
class CaseRow:
    number: str
    status: str
    outcome: str
    channel: str
    request_type: str
    sender: str
    sender_name: str
    subject: str
    received: str  # local time, "YYYY-MM-DD HH:MM"
    closed: str
    decided_by: str


@dataclass(frozen=True)
class Report:
    month: str  # YYYY-MM
    month_label: str  # "Maret 2026"
    office: str
    timezone: str
    start: datetime  # first instant of the month, office time zone
    end: datetime  # first instant of the next month
    generated_at: datetime
    total: int
    by_status: dict[str, int]
    by_channel: dict[str, int]
    by_request_type: dict[str, int]
    outcomes: dict[str, int]
    steps: list[StepStats] = field(default_factory=list)
    cases: list[CaseRow] = field(default_factory=list)


def parse_month(month: str) -> tuple[int, int]:
    m = _MONTH.match((month or "").strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1970:
        raise ValueError(f"invalid month {month!r}: use YYYY-MM, e.g. 2026-03")
    return int(m.group(1)), int(m.group(2))


def _bounds(app: App, month: str) -> tuple[datetime, datetime]:
    year, mon = parse_month(month)
    tz = app.settings.tz
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + (mon == 12), 1 if mon == 12 else mon + 1, 1, tzinfo=tz)
    return start, end


def _count(values: list[str], order: tuple[str, ...] = ()) -> dict[str, int]:
    out = {k: 0 for k in order}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def build_report(app: App, month: str, *, now: datetime | None = None) -> Report:
    """Everything the report shows, read in one transaction. Bad month → ValueError."""
    start, end = _bounds(app, month)
    tz = app.settings.tz
    utc_start, utc_end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    with transaction(app.factory) as s:
        cases = s.scalars(select(Case).where(Case.created_at >= utc_start, Case.created_at < utc_end)
                          .order_by(Case.created_at, Case.id)).all()
        records = s.scalars(select(SlaRecord).where(SlaRecord.ended_at >= utc_start, SlaRecord.ended_at < utc_end)
                            .order_by(SlaRecord.id)).all()
        rows = [CaseRow(number=c.number, status=c.status, outcome=outcome_of(c.status), channel=c.channel,
                        request_type=c.request_type, sender=c.sender, sender_name=c.sender_name,
                        subject=c.subject,
                        received=c.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                        closed=c.closed_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if c.closed_at else "",
                        decided_by=c.decided_by or "")
                for c in cases]
        per_step: dict[str, list[SlaRecord]] = {}
        for r in records:
            per_step.setdefault(r.step, []).append(r)
    standards = {f.name: getattr(app.settings.sla, f.name) for f in fields(app.settings.sla)}
    steps = []
    for step in list(standards) + sorted(set(per_step) - set(standards)):
        recs = per_step.get(step, [])
        minutes = [float(r.working_minutes) for r in recs]
        within = sum(1 for r in recs if r.working_minutes <= r.standard_minutes)
        steps.append(StepStats(
            step=step, label=STEP_LABELS.get(step, step),
            standard_minutes=standards.get(step, recs[-1].standard_minutes if recs else 0),
            count=len(recs), median_minutes=round(statistics.median(minutes), 2) if minutes else None,
            max_minutes=round(max(minutes), 2) if minutes else None, within_standard=within,
            share_within=(within / len(recs)) if recs else None))
    year, mon = parse_month(month)
    return Report(
        month=f"{year:04d}-{mon:02d}", month_label=f"{MONTHS_ID[mon - 1]} {year}",
        office=app.settings.office.name, timezone=app.settings.office.timezone, start=start, end=end,
        generated_at=(now or datetime.now(timezone.utc)).astimezone(tz), total=len(rows),
        by_status=_count([r.status for r in rows], tuple(st.value for st in CaseStatus)),
        by_channel=_count([r.channel for r in rows], tuple(CHANNEL_LABELS)),
        by_request_type=_count([r.request_type for r in rows], tuple(REQUEST_TYPE_LABELS)),
        outcomes=_count([r.outcome for r in rows], OUTCOMES), steps=steps, cases=rows)


# -- output ----------------------------------------------------------------------------------
def _cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in text cells (CSV injection: =, +, -, @, tab, CR)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv(rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for row in rows:
        w.writerow([_cell(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def csv_tables(report: Report) -> dict[str, bytes]:
    """{suffix: bytes} for the three CSV files."""
    summary: list[list[Any]] = [["dimensi", "nilai", "jumlah"], ["total", "total", report.total]]
    for dim, data in (("status", report.by_status), ("kanal", report.by_channel),
                      ("jenis_permohonan", report.by_request_type), ("hasil", report.outcomes)):
        summary += [[dim, k, v] for k, v in data.items()]
    steps: list[list[Any]] = [["langkah", "keterangan", "standar_menit", "jumlah", "median_menit", "maks_menit",
                               "dalam_standar", "persen_dalam_standar"]]
    steps += [[st.step, st.label, st.standard_minutes, st.count, _fmt(st.median_minutes), _fmt(st.max_minutes),
               st.within_standard, "" if st.share_within is None else f"{st.share_within * 100:.1f}"]
              for st in report.steps]
    cases: list[list[Any]] = [["nomor", "status", "hasil", "kanal", "jenis_permohonan", "pengirim", "nama_pengirim",
                               "perihal", "diterima", "ditutup", "diputuskan_oleh"]]
    cases += [[c.number, c.status, c.outcome, c.channel, c.request_type, c.sender, c.sender_name, c.subject,
               c.received, c.closed, c.decided_by] for c in report.cases]
    return {"ringkasan": _csv(summary), "langkah-sop": _csv(steps), "perkara": _csv(cases)}


def render_html(report: Report, renderer: Renderer | None = None) -> str:
    """The report page, from `report/report.html.j2` (the office's copy, if it has one: `app.renderer`)."""
    return (renderer or Renderer()).render_page(REPORT_TEMPLATE, dict(
        r=report, status_labels=STATUS_LABELS, channel_labels=CHANNEL_LABELS,
        request_type_labels=REQUEST_TYPE_LABELS, outcome_labels=OUTCOME_LABELS, fmt=_fmt))


def parse_formats(value: str | list[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    out = [f.strip().lower() for f in items if f.strip()]
    bad = [f for f in out if f not in FORMATS]
    if bad or not out:
        raise ValueError(f"unknown report format {', '.join(bad) or '(none)'!s}: use html, csv or html,csv")
    return list(dict.fromkeys(out))


def write_report(report: Report, dest_dir: Path, formats: list[str], *,
                 renderer: Renderer | None = None) -> list[Path]:
    """Write `laporan-YYYY-MM.html` and/or `laporan-YYYY-MM-<table>.csv` into dest_dir; the paths written."""
    formats = parse_formats(formats)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    base = f"laporan-{report.month}"
    written = []
    for fmt in formats:
        if fmt == "html":
            path = dest_dir / f"{base}.html"
            write_atomic(path, render_html(report, renderer).encode("utf-8"))
            written.append(path)
        else:
            for suffix, data in csv_tables(report).items():
                path = dest_dir / f"{base}-{suffix}.csv"
                write_atomic(path, data)
                written.append(path)
    return written
