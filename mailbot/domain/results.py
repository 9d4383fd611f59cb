"""The counts of one poll pass, added to by every step it runs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PollResult:
    fetched: int = 0
    processed: int = 0
    ignored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    moved: int = 0
    timers: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    prefetched: int = 0  # messages whose parsing and PDF reading a helper process did (mailbot.prefetch)
    ocr: int = 0  # files the OCR pass read (or found over a limit): mailbot.cases.ocrjobs
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"fetched={self.fetched} processed={self.processed} ignored={self.ignored} "
                f"duplicates={self.duplicates} quarantined={self.quarantined} moved={self.moved} "
                f"timers={self.timers} sent={self.sent} retried={self.retried} failed={self.failed}"
                + (f" prefetched={self.prefetched}" if self.prefetched else "")
                + (f" ocr={self.ocr}" if self.ocr else "")
                + (f" errors={len(self.errors)}" if self.errors else ""))
