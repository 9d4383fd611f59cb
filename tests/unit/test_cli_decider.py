"""Who a CLI decision names (SPEC §2): --by, else $SUDO_USER, else the login — never root."""

from __future__ import annotations

import argparse

import pytest

from mailbot import cli


@pytest.fixture
def login(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def set_login(name: str, sudo_user: str | None = None) -> None:
        monkeypatch.setattr(cli.getpass, "getuser", lambda: name)
        if sudo_user is None:
            monkeypatch.delenv("SUDO_USER", raising=False)
        else:
            monkeypatch.setenv("SUDO_USER", sudo_user)
    return set_login


@pytest.mark.parametrize("by,sudo_user,user,expected", [
    ("rahmat", "siti", "root", "rahmat"),  # --by wins
    (None, "siti", "root", "siti"),  # sudo mailbot … names who typed it
    (None, None, "petugas", "petugas"),  # a personal login
    ("Budi Santoso", None, "root", "Budi Santoso"),
])
def test_the_person_is_named(login, by: str | None, sudo_user: str | None, user: str,  # type: ignore[no-untyped-def]
                             expected: str) -> None:
    login(user, sudo_user)
    assert cli._decider(argparse.Namespace(by=by)) == expected


@pytest.mark.parametrize("by,sudo_user,user", [
    (None, None, "root"), (None, "root", "root"), ("root", "siti", "siti"), ("ROOT", None, "petugas"),
    (None, "", "root"),
])
def test_root_is_refused_with_one_line_asking_for_by(login, by: str | None, sudo_user: str | None,  # type: ignore[no-untyped-def]
                                                     user: str) -> None:
    login(user, sudo_user)
    with pytest.raises(cli.UsageError, match="--by NAME"):
        cli._decider(argparse.Namespace(by=by))


def test_a_name_with_control_characters_is_refused(login) -> None:  # type: ignore[no-untyped-def]
    login("petugas")
    with pytest.raises(cli.UsageError, match="not a name"):
        cli._decider(argparse.Namespace(by="evil\nInjected: yes"))
