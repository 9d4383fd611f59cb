"""The monthly SOP compliance report (HTML, CSV) from the SLA records."""

from __future__ import annotations

import csv
import io
import re
import statistics
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import String, func, select, type_coerce

from mailbot.admin import charts
from mailbot.admin.chromium import INSTALL_HINT, ChromiumMissing, find_chromium, html_to_pdf
from mailbot.app import App
from mailbot.domain.states import REQUEST_TYPE_LABELS, CaseStatus
from mailbot.outgoing.render import REPORT_TEMPLATE, Renderer
from mailbot.store.blobs import write_atomic
from mailbot.store.db import transaction
from mailbot.store.models import Case, Event, InboundMessage, Outbox, SlaRecord

FORMATS = ("html", "csv", "pdf")
CSV_DIALECTS = {"semicolon": ";", "comma": ","}  # Indonesian Excel expects ';' (and a decimal comma)
# Mail that is no request: listed for transparency, never counted as a request.
EXCLUDED_LABELS = {"not_a_request": "Bukan permohonan (tanpa lampiran/jenis permohonan, pengirim tidak dikenal)",
                   "ignored": "Email otomatis, spam, milis, pantulan (tidak dibalas)"}
# Steps the bot cannot time, and why (said in the report instead of a silent zero).
STEP_NOTES = {
    "step6_reset": "Dilakukan Admin di dalam aplikasi SPSE sebelum membalas SETUJU; mailbot tidak dapat melihat "
                   "SPSE, sehingga waktunya termasuk dalam langkah 5. Jumlah = persetujuan pada periode ini.",
    "step7_rejection": "Dari keputusan TOLAK sampai email penolakan diterima server email.",
    "step8_notify": "Dari keputusan SETUJU sampai email password/user ID diterima server email.",
    "step3_request_documents": "Dari diterimanya berkas sampai permintaan kelengkapan dibuat.",
}
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
    median_minutes: float | None  # working minutes (office hours, no holidays)
    max_minutes: float | None
    within_standard: int
    share_within: float | None  # 0..1, None when no record
    median_calendar: float | None = None  # calendar minutes, beside the working ones
    max_calendar: float | None = None
    timed: int = 0  # how many of `count` have a time (a step 7 whose mail is not yet sent has none)
    measurable: bool = True  # False: the step happens where mailbot cannot see it (step 6, in SPSE)
    note: str = ""


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
    per_day: list[tuple[int, int]] = field(default_factory=list)  # (day of month, requests received)
    excluded: dict[str, int] = field(default_factory=dict)  # mail that is no request, by kind
    working_hours: str = "08:00-16:00"

    @property
    def last_day(self) -> datetime:
        return self.end - timedelta(days=1)

    @property
    def period_line(self) -> str:
        """"Periode: 1 Maret 2026 s.d. 31 Maret 2026 (waktu Asia/Jakarta)"."""
        return f"Periode: {_date_id(self.start)} s.d. {_date_id(self.last_day)} (waktu {self.timezone})"


def _date_id(d: datetime) -> str:
    return f"{d.day} {MONTHS_ID[d.month - 1]} {d.year}"


def calendar_label(minutes: float | None) -> str:
    """Calendar time for people: "45 mnt", "3 j 20 mnt", "2 hr 4 j"."""
    if minutes is None:
        return ""
    m = int(round(minutes))
    if m < 60:
        return f"{m} mnt"
    if m < 24 * 60:
        return f"{m // 60} j {m % 60} mnt" if m % 60 else f"{m // 60} j"
    days, hours = m // (24 * 60), (m % (24 * 60)) // 60
    return f"{days} hr {hours} j" if hours else f"{days} hr"


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


def _stats(step: str, standard: int, working: list[float], calendar: list[float], count: int, *,
           measurable: bool = True) -> StepStats:
    within = sum(1 for w in working if w <= standard)
    return StepStats(
        step=step, label=STEP_LABELS.get(step, step), standard_minutes=standard, count=count,
        median_minutes=round(statistics.median(working), 2) if working else None,
        max_minutes=round(max(working), 2) if working else None, within_standard=within,
        share_within=(within / len(working)) if working else None,
        median_calendar=round(statistics.median(calendar), 2) if calendar else None,
        max_calendar=round(max(calendar), 2) if calendar else None, timed=len(working), measurable=measurable,
        note=STEP_NOTES.get(step, ""))


def _minutes(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds() / 60, 0.0)


def build_report(app: App, month: str, *, now: datetime | None = None) -> Report:
    """Everything the report shows, read in one transaction. Bad month → ValueError.

    Requests are cases (mail that is no request makes none, SPEC §2); steps 2, 3, 5 and 8 come from the
    SLA records, step 6 (inside SPSE) is counted from the approvals, step 7 timed from each rejection to
    its `rejected` mail being accepted by the SMTP server."""
    start, end = _bounds(app, month)
    tz = app.settings.tz
    utc_start, utc_end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    standards = {f.name: getattr(app.settings.sla, f.name) for f in fields(app.settings.sla)}
    timed: dict[str, tuple[list[float], list[float], int]] = {}
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
        days = [c.created_at.astimezone(tz).day for c in cases]
        for r in records:
            w, cal, n = timed.get(r.step, ([], [], 0))
            timed[r.step] = ([*w, float(r.working_minutes)], [*cal, _minutes(r.started_at, r.ended_at)], n + 1)
        decisions = s.execute(select(Event.kind, Event.case_id, Event.at, Event.id).where(
            Event.kind.in_(("approve", "reject")), Event.case_id.is_not(None), Event.at >= utc_start,
            Event.at < utc_end).order_by(Event.id)).all()
        approvals = sum(1 for d in decisions if d.kind == "approve")
        rejections: tuple[list[float], list[float], int] = ([], [], 0)
        for d in decisions:
            if d.kind != "reject":
                continue
            sent = s.scalar(select(Outbox.sent_at).where(
                Outbox.case_id == d.case_id, Outbox.template == "rejected", Outbox.sent_at.is_not(None),
                Outbox.created_at >= d.at).order_by(Outbox.id).limit(1))
            w, cal, n = rejections
            if sent is None:
                rejections = (w, cal, n + 1)
            else:
                rejections = ([*w, round(app.calendar.working_minutes(d.at, sent), 2)], [*cal, _minutes(d.at, sent)],
                              n + 1)
        status_text = type_coerce(InboundMessage.status, String)
        excluded = {k: 0 for k in EXCLUDED_LABELS}
        for kind, n in s.execute(select(status_text, func.count()).where(
                status_text.in_(tuple(EXCLUDED_LABELS)), InboundMessage.kind != "refused",  # admins' refused codes
                InboundMessage.received_at >= utc_start, InboundMessage.received_at < utc_end)
                .group_by(status_text)).all():
            excluded[str(kind)] = int(n)
    timed["step7_rejection"] = rejections
    steps = []
    for step in list(standards) + sorted(set(timed) - set(standards)):
        standard = standards.get(step, 0)
        if step == "step6_reset":
            steps.append(_stats(step, standard, [], [], approvals, measurable=False))
            continue
        w, cal, n = timed.get(step, ([], [], 0))
        steps.append(_stats(step, standard, w, cal, n))
    year, mon = parse_month(month)
    n_days = (end - start).days
    return Report(
        month=f"{year:04d}-{mon:02d}", month_label=f"{MONTHS_ID[mon - 1]} {year}",
        office=app.settings.office.name, timezone=app.settings.office.timezone, start=start, end=end,
        generated_at=(now or datetime.now(timezone.utc)).astimezone(tz), total=len(rows),
        by_status=_count([r.status for r in rows], tuple(st.value for st in CaseStatus)),
        by_channel=_count([r.channel for r in rows], tuple(CHANNEL_LABELS)),
        by_request_type=_count([r.request_type for r in rows], tuple(REQUEST_TYPE_LABELS)),
        outcomes=_count([r.outcome for r in rows], OUTCOMES), steps=steps, cases=rows,
        per_day=[(d, days.count(d)) for d in range(1, n_days + 1)], excluded=excluded,
        working_hours=app.settings.office.working_hours)


# -- output ----------------------------------------------------------------------------------
def _cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in text cells (CSV injection: =, +, -, @, tab, CR)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv(rows: list[list[Any]], delimiter: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        w.writerow([_cell(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8


def _fmt(value: float | None, decimal: str = ".") -> str:
    return "" if value is None else f"{value:.2f}".replace(".", decimal)


def parse_csv_dialect(value: str) -> str:
    if value not in CSV_DIALECTS:
        raise ValueError(f"unknown CSV dialect {value!r}: use semicolon (Excel in Indonesia) or comma")
    return value


def csv_tables(report: Report, dialect: str = "semicolon") -> dict[str, bytes]:
    """{suffix: bytes} for the three CSV files. "semicolon" (the default): `;` between fields and a decimal
    comma, as Excel opens it in an Indonesian locale; "comma": `,` and a decimal point. Both UTF-8 with BOM."""
    delimiter = CSV_DIALECTS[parse_csv_dialect(dialect)]
    dec = "," if delimiter == ";" else "."
    summary: list[list[Any]] = [["dimensi", "nilai", "jumlah"], ["total", "total", report.total]]
    for dim, data in (("status", report.by_status), ("kanal", report.by_channel),
                      ("jenis_permohonan", report.by_request_type), ("hasil", report.outcomes),
                      ("tidak_dihitung", report.excluded)):
        summary += [[dim, k, v] for k, v in data.items()]
    steps: list[list[Any]] = [["langkah", "keterangan", "standar_menit", "jumlah", "terukur", "median_menit_kerja",
                               "maks_menit_kerja", "median_menit_kalender", "maks_menit_kalender",
                               "dalam_standar", "persen_dalam_standar", "catatan"]]
    steps += [[st.step, st.label, st.standard_minutes, st.count, st.timed if st.measurable else "tidak terukur",
               _fmt(st.median_minutes, dec), _fmt(st.max_minutes, dec), _fmt(st.median_calendar, dec),
               _fmt(st.max_calendar, dec), st.within_standard,
               "" if st.share_within is None else f"{st.share_within * 100:.1f}".replace(".", dec), st.note]
              for st in report.steps]
    cases: list[list[Any]] = [["nomor", "status", "hasil", "kanal", "jenis_permohonan", "pengirim", "nama_pengirim",
                               "perihal", "diterima", "ditutup", "diputuskan_oleh"]]
    cases += [[c.number, c.status, c.outcome, c.channel, c.request_type, c.sender, c.sender_name, c.subject,
               c.received, c.closed, c.decided_by] for c in report.cases]
    return {"ringkasan": _csv(summary, delimiter), "langkah-sop": _csv(steps, delimiter),
            "perkara": _csv(cases, delimiter)}


def report_charts(report: Report) -> dict[str, Any]:
    """The three inline SVG charts of the page."""
    return {
        "per_day": charts.per_day(report.per_day),
        "outcomes": charts.outcomes([(k, OUTCOME_LABELS.get(k, k), n) for k, n in report.outcomes.items()]),
        "steps": charts.step_times([(st.label.split(" — ")[0] + " (" + str(st.standard_minutes) + " mnt)",
                                     st.median_minutes if st.measurable else None, st.standard_minutes)
                                    for st in report.steps if st.standard_minutes]),
    }


def render_html(report: Report, renderer: Renderer | None = None) -> str:
    """The report page, from `report/report.html.j2` (the office's copy, if it has one: `app.renderer`)."""
    return (renderer or Renderer()).render_page(REPORT_TEMPLATE, dict(
        r=report, status_labels=STATUS_LABELS, channel_labels=CHANNEL_LABELS,
        request_type_labels=REQUEST_TYPE_LABELS, outcome_labels=OUTCOME_LABELS, fmt=_fmt,
        calendar=calendar_label, charts=report_charts(report), excluded_labels=EXCLUDED_LABELS))


def parse_formats(value: str | list[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    out = [f.strip().lower() for f in items if f.strip()]
    bad = [f for f in out if f not in FORMATS]
    if bad or not out:
        raise ValueError(f"unknown report format {', '.join(bad) or '(none)'!s}: use html, csv, pdf or a list "
                         "such as html,csv")
    return list(dict.fromkeys(out))


def write_report(report: Report, dest_dir: Path, formats: list[str], *,
                 renderer: Renderer | None = None, csv_dialect: str = "semicolon") -> list[Path]:
    """Write `laporan-YYYY-MM.html`, `laporan-YYYY-MM.pdf` (headless Chromium, A4) and/or
    `laporan-YYYY-MM-<table>.csv` into dest_dir; the paths written."""
    formats = parse_formats(formats)
    parse_csv_dialect(csv_dialect)
    if "pdf" in formats and find_chromium() is None:  # before anything is written
        raise ChromiumMissing(f"report --format pdf needs headless Chromium: {INSTALL_HINT}")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    base = f"laporan-{report.month}"
    written = []
    for fmt in formats:
        if fmt == "html":
            path = dest_dir / f"{base}.html"
            write_atomic(path, render_html(report, renderer).encode("utf-8"))
            written.append(path)
        elif fmt == "pdf":
            written.append(html_to_pdf(render_html(report, renderer), dest_dir / f"{base}.pdf"))
        else:
            for suffix, data in csv_tables(report, csv_dialect).items():
                path = dest_dir / f"{base}-{suffix}.csv"
                write_atomic(path, data)
                written.append(path)
    return written
