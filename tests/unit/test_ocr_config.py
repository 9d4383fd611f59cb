"""The office's [ocr] table: defaults, the example config, and one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.config import EXAMPLE_CONFIG, ConfigError, OcrSettings, load_settings
from tests.support.config import write_config


def _settings(tmp_path: Path, ocr: str):  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, "127.0.0.1", 1, "lpse", "127.0.0.1", 2)
    path.write_text(path.read_text(encoding="utf-8") + "\n[ocr]\n" + ocr, encoding="utf-8")
    return load_settings(path)


def test_defaults_and_the_example_config_agree() -> None:
    assert OcrSettings() == OcrSettings(True, 2, "/usr/share/tesseract-ocr/5/tessdata", "ind+eng", 300, 20,
                                        40_000_000, 30, 1024)
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    assert "[ocr]" in text and "apt-get install tesseract-ocr-ind tesseract-ocr-eng tesseract-ocr-osd" in text
    assert load_settings(EXAMPLE_CONFIG).ocr == OcrSettings()


def test_the_office_values_are_read(tmp_path: Path) -> None:
    s = _settings(tmp_path, 'enabled = false\nworkers = 1\ntessdata = "/opt/tessdata"\nlang = "ind"\n'
                            "dpi = 200\nmax_pages = 5\nmax_pixels = 1000000\nseconds_per_page = 10\nmemory_mb = 512\n")
    assert s.ocr == OcrSettings(False, 1, "/opt/tessdata", "ind", 200, 5, 1_000_000, 10, 512)


@pytest.mark.parametrize(("line", "message"), [
    ("workers = 0\n", r"ocr\.workers: must be at least 1"),
    ("workers = 64\n", r"ocr\.workers: at most 16"),
    ("seconds_per_page = 0\n", r"ocr\.seconds_per_page: must be at least 1"),
    ('lang = "ind eng"\n', r"ocr\.lang: 'ind eng' must look like ind\+eng"),
    ('workers = "two"\n', r"ocr\.workers"),
    ("colour = true\n", r"ocr\.colour|ocr: unknown key"),
])
def test_a_bad_value_is_a_config_error_naming_the_key(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _settings(tmp_path, line)
