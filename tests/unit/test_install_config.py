"""The install-related config keys: `from_address` as `"Name <addr>"`, `[storage] retention_days`,
`[security] env_file`."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.config import ConfigError, load_settings
from tests.support.config import write_config

BOT = "lpse@lpse-demo.go.id"


def config_with(tmp_path: Path, old: str, new: str) -> Path:
    path = write_config(tmp_path, "127.0.0.1", 1, "lpse", "127.0.0.1", 2)
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(("value", "name", "address"), [
    (BOT, "LPSE Kabupaten Demo", BOT),  # bare: from_name is used
    (f"LPSE Kota Contoh <{BOT}>", "LPSE Kota Contoh", BOT),
    ('\\"LPSE Kota, Contoh\\" <LPSE@LPSE-demo.go.id>', "LPSE Kota, Contoh", BOT),
    (f"<{BOT}>", "LPSE Kabupaten Demo", BOT),  # an empty name: from_name again
])
def test_from_address_bare_or_with_a_display_name(tmp_path: Path, value: str, name: str, address: str) -> None:
    settings = load_settings(config_with(tmp_path, f'from_address = "{BOT}"', f'from_address = "{value}"'))
    assert (settings.smtp.from_name, settings.smtp.from_address) == (name, address)


@pytest.mark.parametrize(("value", "expected"), [
    (f"LPSE <{BOT}", "must be an address or"),
    ("LPSE <not-an-address>", "is not an email address"),
    (f"LPSE\\r\\nBcc: x@evil.example <{BOT}>", "control characters or line breaks"),
    (f"LPSE \\u202e <{BOT}>", "control characters or line breaks"),
])
def test_a_bad_from_address_is_one_line_naming_the_key(tmp_path: Path, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(config_with(tmp_path, f'from_address = "{BOT}"', f'from_address = "{value}"'))
    message = str(exc.value)
    assert message.startswith("smtp.from_address:") and expected in message and "\n" not in message


def test_retention_days_default_zero_and_validated(tmp_path: Path) -> None:
    assert load_settings(write_config(tmp_path, "127.0.0.1", 1, "lpse", "127.0.0.1", 2)).retention_days == 0
    path = config_with(tmp_path, 'data_dir = "data"\n', 'data_dir = "data"\nretention_days = 365\n')
    assert load_settings(path).retention_days == 365
    path = config_with(tmp_path, 'data_dir = "data"\n', 'data_dir = "data"\nretention_days = -1\n')
    with pytest.raises(ConfigError, match=r"^storage.retention_days: must be 0 \(keep forever\)"):
        load_settings(path)


def test_env_file_beside_the_config_unless_configured(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, "127.0.0.1", 1, "lpse", "127.0.0.1", 2))
    assert settings.env_file == (tmp_path / "mailbot.env").resolve()
    path = config_with(tmp_path, "[admins]", '[security]\nenv_file = "/etc/mailbot/secrets.env"\n\n[admins]')
    assert load_settings(path).env_file == Path("/etc/mailbot/secrets.env")
