"""On a Dovecot that does not announce MOVE the bot copies, flags and expunges only its UIDs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from mailbot.domain.results import PollResult
from mailbot.intake.fetch import open_mailbox
from mailbot.intake.mailbox import ImapMailbox
from mailbot.runner import poll_once
from tests.support.bot import Bot, make_bot
from tests.support.documents import sample_request_letter, sample_sk
from tests.support.mails import PPK_A, request_email
from tests.support.servers import (
    NO_MOVE_CAPABILITY,
    NO_MOVE_NO_UIDPLUS_CAPABILITY,
    FaultySmtp,
    ImapServerHandle,
    imap_append,
    imap_fetch_all,
    imap_flags,
)

NAME, NIP, EMAIL = PPK_A[0], PPK_A[1], PPK_A[2]

pytestmark = pytest.mark.dovecot

REQUEST = request_email(EMAIL, NAME, "Permohonan reset password SPSE",
                        f"Dengan hormat, mohon reset password. NIP. {NIP}",
                        [("Surat Permohonan.pdf", sample_request_letter(NAME, NIP)),
                         ("SK PPK.pdf", sample_sk(NAME, NIP))]).replace(b"\n", b"\r\n")
# A message a staff member reading the shared mailbox deleted in a client that does not expunge.
PERSON = request_email("staf.lpse@lpse-demo.go.id", "Staf LPSE", "Undangan rapat koordinasi",
                       "Mohon hadir rapat koordinasi hari Senin.").replace(b"\n", b"\r\n")


class PersonDeletesDuringPoll(ImapMailbox):
    """The bot's connection; just before the bot moves its mail, a person (another IMAP session) files a
    message in the INBOX already flagged \\Deleted, as clients without auto-expunge do."""

    person_uids: list[int]

    def move(self, uids: Iterable[int], folder: str) -> None:
        if not hasattr(self, "person_uids"):
            endpoint = self.person_endpoint
            imap_append(endpoint, "INBOX", PERSON, flags=("\\Deleted",))
            self.person_uids = [u for u, flags in imap_flags(endpoint, "INBOX").items() if "\\Deleted" in flags]
        super().move(uids, folder)


def poll_with_person(bot: Bot) -> tuple[PollResult, PersonDeletesDuringPoll]:
    mb = PersonDeletesDuringPoll(open_mailbox(bot.app).params)
    mb.person_endpoint = bot.imap  # type: ignore[attr-defined]
    with mb:
        # The server really lacks MOVE (a stripped capability list, not a patched client).
        assert not mb.has("MOVE")
        result = poll_once(bot.app, mailbox=mb)
    return result, mb


@pytest.fixture
def no_move_bot(tmp_path: Path, get_dovecot: Callable[..., ImapServerHandle], smtp_server: FaultySmtp,
                sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    """On a Dovecot announcing no MOVE after login (UIDPLUS still there)."""
    b = make_bot(tmp_path, get_dovecot(capability=NO_MOVE_CAPABILITY), smtp_server, sqlite_url, monkeypatch)
    yield b
    b.app.engine.dispose()


@pytest.fixture
def no_uidplus_bot(tmp_path: Path, get_dovecot: Callable[..., ImapServerHandle],
                   smtp_server: FaultySmtp, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    """On a Dovecot announcing neither MOVE nor UIDPLUS after login."""
    b = make_bot(tmp_path, get_dovecot(capability=NO_MOVE_NO_UIDPLUS_CAPABILITY), smtp_server, sqlite_url,
                 monkeypatch)
    yield b
    b.app.engine.dispose()


def test_without_move_the_request_reaches_processed_and_only_its_uid_is_expunged(no_move_bot: Bot) -> None:
    """Scenario: no MOVE but UIDPLUS: the request ends in processed, the INBOX keeps only the message a
    person flagged \\Deleted meanwhile (UID EXPUNGE, never a plain EXPUNGE)."""
    bot = no_move_bot
    bot.append(REQUEST)
    with open_mailbox(bot.app) as mb:
        assert mb.has("UIDPLUS") and not mb.has("MOVE")
    result, mb = poll_with_person(bot)
    assert result.errors == []
    assert (result.fetched, result.processed, result.moved) == (1, 1, 1)
    assert [m.rcpt_tos for m in bot.sent("ack")] == [[EMAIL]]

    processed = bot.folder(bot.app.settings.imap.processed_folder)
    assert imap_fetch_all(bot.imap, processed) == [REQUEST]
    assert list(imap_flags(bot.imap, processed).values()) == [set()]  # the copy is not flagged \Deleted
    # The person's message is still there, still flagged only by the person.
    assert imap_fetch_all(bot.imap, "INBOX") == [PERSON]
    assert imap_flags(bot.imap, "INBOX") == {mb.person_uids[0]: {"\\Deleted"}}


def test_without_move_and_uidplus_nothing_is_expunged_and_nothing_repeats(no_uidplus_bot: Bot) -> None:
    """Scenario: neither MOVE nor UIDPLUS: the request is copied to processed and left flagged \\Deleted in
    the INBOX (no plain EXPUNGE that would take the person's message too); the next poll repeats nothing."""
    bot = no_uidplus_bot
    bot.append(REQUEST)
    with open_mailbox(bot.app) as mb:
        assert not mb.has("UIDPLUS") and not mb.has("MOVE")
    result, mb = poll_with_person(bot)
    assert result.errors == []
    assert (result.fetched, result.processed, result.moved) == (1, 1, 1)
    processed = bot.folder(bot.app.settings.imap.processed_folder)
    assert imap_fetch_all(bot.imap, processed) == [REQUEST]
    assert imap_fetch_all(bot.imap, "INBOX") == [REQUEST, PERSON]
    assert set(map(frozenset, imap_flags(bot.imap, "INBOX").values())) == {frozenset({"\\Deleted"})}

    to_ppk = [m for m in bot.smtp.messages if EMAIL in m.rcpt_tos]
    again = bot.poll()
    assert again.errors == []
    # Only the person's newer message is new to the bot; the request is neither fetched nor copied again.
    assert again.fetched == 1
    assert imap_fetch_all(bot.imap, processed).count(REQUEST) == 1
    assert [m for m in bot.smtp.messages if EMAIL in m.rcpt_tos] == to_ppk
