"""`[limits] pdf_seconds` / `pdf_memory_mb` reach the PDF worker of the main process and of the helper."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.cases.pdfworker import DEFAULT_LIMITS, PdfLimits, pdf_limits
from mailbot.config import ConfigError, load_settings
from mailbot.intake.prefetch import Limits
from tests.support.config import write_config


def _settings(tmp_path: Path, limits: str) -> object:
    path = write_config(tmp_path, "127.0.0.1", 1, "lpse", "127.0.0.1", 2)
    path.write_text(path.read_text(encoding="utf-8") + "\n[limits]\n" + limits, encoding="utf-8")
    return load_settings(path)


def test_the_defaults_are_the_workers_defaults(tmp_path: Path) -> None:
    s = _settings(tmp_path, "")
    assert pdf_limits(s.limits) == DEFAULT_LIMITS == PdfLimits(20.0, 512)  # type: ignore[attr-defined]


def test_the_office_limits_reach_both_workers(tmp_path: Path) -> None:
    s = _settings(tmp_path, "pdf_seconds = 5\npdf_memory_mb = 256\n")
    assert pdf_limits(s.limits) == PdfLimits(5.0, 256)  # type: ignore[attr-defined]
    assert Limits.of(s.limits).pdf == PdfLimits(5.0, 256)  # type: ignore[attr-defined]


@pytest.mark.parametrize("line", ["pdf_seconds = 0\n", "pdf_memory_mb = 0\n"])
def test_a_limit_below_one_is_a_config_error_naming_the_key(tmp_path: Path, line: str) -> None:
    with pytest.raises(ConfigError, match=r"limits\.pdf_(seconds|memory_mb): must be at least 1"):
        _settings(tmp_path, line)
