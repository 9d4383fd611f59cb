"""The ops_alert mail: a start and a recovery letter for each check, in formal Indonesian."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from mailbot.ops.status import ALERTS
from mailbot.outgoing.render import Renderer
from tests.support.paths import REPO

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(REPO / "mailbot" / "templates")


@pytest.mark.parametrize("check", ALERTS)
@pytest.mark.parametrize("state", ["start", "end"])
def test_each_check_has_words_and_both_letters(renderer: Renderer, check: str, state: str) -> None:
    ctx = {"office": {"name": "LPSE Kabupaten Banyuasin"}, "tz": ZoneInfo("Asia/Jakarta"), "now": NOW,
           "alert": {"check": check, "state": state, "since": NOW, "detail": "<b>detail</b>"}}
    mail = renderer.render("ops_alert", ctx)
    assert mail.subject.startswith("Peringatan operasional: " if state == "start" else "Pulih: ")
    assert mail.subject.split(": ", 1)[1] not in ALERTS  # the operator reads words, not a check's code name
    assert mail.text.startswith("Yth. Bapak/Ibu Admin Agency,") and "Hormat kami," in mail.text
    assert "10.00" in mail.text or "10:00" in mail.text  # the start time, in office time
    if state == "start":
        assert "&lt;b&gt;detail&lt;/b&gt;" in mail.html and "<b>detail</b>" in mail.text
    else:
        assert "teratasi" in mail.text and "detail" not in mail.text
