"""[alerts] and [metrics] in the config, and the IMAP login backoff schedule."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from mailbot.cli import main
from mailbot.config import EXAMPLE_CONFIG, load_settings
from mailbot.store.health import login_backoff
from tests.support.config import write_config


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", "x")
    monkeypatch.setenv("MAILBOT_SECRET", "y" * 32)
    monkeypatch.delenv("MAILBOT_CONFIG", raising=False)


@pytest.mark.parametrize("extra,expected", [
    ('[metrics]\nlisten = "9464"\n', ["metrics.listen", "'9464'", "HOST:PORT"]),
    ('[metrics]\nlisten = "127.0.0.1:99999"\n', ["metrics.listen", "HOST:PORT"]),
    ("[alerts]\noutbox_stuck_minutes = -1\n", ["alerts.outbox_stuck_minutes", "negative"]),
    ("[alerts]\npoll_stale_minutes = 5\n", ["alerts.poll_stale_minutes"]),
])
def test_a_bad_ops_setting_exits_2_with_one_line_naming_the_key(
        extra: str, expected: list[str], tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, "127.0.0.1", 1, "lpse", "127.0.0.1", 2)
    cfg.write_text(cfg.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")
    rc = main(["--config", str(cfg), "status"])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("mailbot: config error: ")
    for fragment in expected:
        assert fragment in err


def test_the_example_documents_alerts_and_leaves_metrics_off(env: None) -> None:
    s = load_settings(EXAMPLE_CONFIG)
    assert s.metrics.listen == ""
    assert s.alerts.poll_stale_critical_minutes == 60 and s.alerts.disk_critical_percent == 5
    assert s.alerts.smtp_failing_minutes == 5 and s.alerts.outbox_stuck_minutes == 30


def test_login_backoff_grows_to_an_hour_and_stays_there() -> None:
    assert [login_backoff(n) for n in range(1, 9)] == [timedelta(minutes=m) for m in (1, 2, 5, 15, 30, 60, 60, 60)]
