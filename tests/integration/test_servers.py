"""Proves the loopback IMAP/SMTP servers (the demo's, and the tests' with fault injection) behave like the
real servers the bot will meet."""

from __future__ import annotations

import smtplib
import socket
import threading
from email.message import EmailMessage

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from mailbot.demo.servers import EmbeddedImap, EmbeddedSmtp, ImapEndpoint
from tests.support.servers import (
    FaultySmtp,
    ImapServerHandle,
    PymapServer,
    imap_append,
    imap_connect,
    imap_create,
    imap_fetch_all,
    imap_flags,
    imap_folders,
    imap_uids,
)


def _raw(subject: str, body: str = "Isi pesan.") -> bytes:
    return (f"From: ppk@example.go.id\r\nTo: lpse@example.go.id\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@example.go.id>\r\n\r\n{body}\r\n").encode()


def _smtp_message(subject: str = "Uji") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "bot@lpse.example.go.id"
    msg["To"] = "ppk@example.go.id"
    msg["Subject"] = subject
    msg.set_content("Permohonan Anda telah kami terima.")
    return msg


# --- IMAP, on pymap and Dovecot -------------------------------------------------------

def test_fresh_mailbox_is_empty(imap_server: ImapServerHandle) -> None:
    """Every test gets its own user: nothing in INBOX, no folders but INBOX."""
    assert imap_uids(imap_server, "INBOX") == []
    assert imap_folders(imap_server) == ["INBOX"]


def test_append_list_fetch_and_flags(imap_server: ImapServerHandle) -> None:
    """Appended raw bytes come back unchanged, in UID order, with their flags."""
    first, second = _raw("satu"), _raw("dua")
    imap_append(imap_server, "INBOX", first)
    imap_append(imap_server, "INBOX", second, flags=("\\Seen",))
    uids = imap_uids(imap_server, "INBOX")
    assert len(uids) == 2 and uids[0] < uids[1]
    assert imap_fetch_all(imap_server, "INBOX") == [first, second]
    flags = imap_flags(imap_server, "INBOX")
    assert flags == {uids[0]: set(), uids[1]: {"\\Seen"}}


def test_create_folder_and_move_with_uidplus(imap_server: ImapServerHandle) -> None:
    """Both servers offer MOVE, UIDPLUS, IDLE and STATUS; a client-created folder receives a MOVE."""
    imap_append(imap_server, "INBOX", _raw("pindah"))
    imap_create(imap_server, "processed")
    imap_create(imap_server, "Sent")
    assert {"INBOX", "processed", "Sent"} <= set(imap_folders(imap_server))
    with imap_connect(imap_server) as client:
        caps = set(client.capabilities())
        assert {b"MOVE", b"UIDPLUS", b"IDLE"} <= caps
        client.select_folder("INBOX")
        client.move(client.search("ALL"), "processed")
        assert client.folder_status("processed", ["MESSAGES"])[b"MESSAGES"] == 1
    assert imap_uids(imap_server, "INBOX") == []
    assert imap_fetch_all(imap_server, "processed") == [_raw("pindah")]


def test_copy_keeps_exact_bytes(imap_server: ImapServerHandle) -> None:
    """COPY (the fallback when MOVE is missing) duplicates the message byte-for-byte."""
    long_header = "X-Panjang: " + " ".join(["kata"] * 40)  # > 78 chars: must not be re-folded
    raw = _raw("salin").replace(b"\r\n\r\n", f"\r\n{long_header}\r\n\r\n".encode(), 1)
    imap_append(imap_server, "INBOX", raw)
    imap_create(imap_server, "arsip")
    with imap_connect(imap_server) as client:
        client.select_folder("INBOX")
        client.copy(client.search("ALL"), "arsip")
    assert imap_fetch_all(imap_server, "arsip") == [raw]
    assert imap_fetch_all(imap_server, "INBOX") == [raw]


def test_restart_keeps_mail_and_port(imap_server: ImapServerHandle) -> None:
    """An IMAP outage: stopped means refused connections, restarted means the same mail on the same port."""
    imap_append(imap_server, "INBOX", _raw("bertahan"))
    uids_before = imap_uids(imap_server, "INBOX")
    imap_server.stop()
    with pytest.raises(OSError):
        socket.create_connection((imap_server.host, imap_server.port), timeout=2).close()
    imap_server.start()
    assert imap_uids(imap_server, "INBOX") == uids_before
    imap_server.restart()
    assert imap_fetch_all(imap_server, "INBOX") == [_raw("bertahan")]


def test_idle_sees_new_mail(imap_server: ImapServerHandle) -> None:
    """IDLE wakes up with EXISTS when another connection appends."""
    with imap_connect(imap_server) as client:
        client.select_folder("INBOX")
        client.idle()
        imap_append(imap_server, "INBOX", _raw("baru"))
        responses = client.idle_check(timeout=5)
        client.idle_done()
    assert any(len(r) > 1 and r[1] == b"EXISTS" for r in responses), responses


def test_wrong_password_is_rejected(imap_server: ImapServerHandle) -> None:
    client = IMAPClient(imap_server.host, imap_server.port, ssl=False, timeout=5)
    with pytest.raises(LoginError):
        client.login(imap_server.username, "salah")
    client.shutdown()


def test_handle_exposes_plain_endpoint(imap_server: ImapServerHandle) -> None:
    ep = imap_server.endpoint
    assert type(ep) is ImapEndpoint
    assert (ep.host, ep.kind) == ("127.0.0.1", imap_server.kind)


# --- EmbeddedImap on its own ----------------------------------------------------------

def test_embedded_imap_default_user_and_cleanup() -> None:
    """The demo server: lpse/demo-secret, a real subprocess, gone after the with-block."""
    with EmbeddedImap() as server:
        ep = server.endpoint()
        assert (ep.username, ep.password, ep.kind) == ("lpse", "demo-secret", "pymap")
        imap_append(ep, "INBOX", _raw("demo"))
        assert imap_fetch_all(ep, "INBOX") == [_raw("demo")]
        proc = server._proc
        workdir = server.workdir
    assert proc is not None and proc.poll() is not None
    assert not workdir.exists()


def test_embedded_imap_keeps_caller_workdir(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A caller-supplied workdir survives close(), and a new server on it sees the old mail."""
    with EmbeddedImap(workdir=tmp_path) as server:
        imap_append(server.endpoint(), "INBOX", _raw("simpan"))
    with EmbeddedImap(workdir=tmp_path) as again:
        assert imap_fetch_all(again.endpoint(), "INBOX") == [_raw("simpan")]


def test_embedded_imap_deliver_reaches_idle_and_survives_restart() -> None:
    """deliver() drops mail into the INBOX like an MTA would; IDLE notices it."""
    with PymapServer() as server:
        ep = server.endpoint()
        server.deliver(_raw("kiriman pertama"))
        assert imap_fetch_all(ep, "INBOX") == [_raw("kiriman pertama")]
        with imap_connect(ep) as client:
            client.select_folder("INBOX")
            client.idle()
            server.deliver(_raw("kiriman kedua"))
            responses = client.idle_check(timeout=5)
            client.idle_done()
        assert (2, b"EXISTS") in responses
        server.restart()
        assert imap_uids(ep, "INBOX") == [1, 2]


# --- SMTP -----------------------------------------------------------------------------

def test_smtp_captures_messages(smtp_server: FaultySmtp) -> None:
    host, port = smtp_server.start()
    with smtplib.SMTP(host, port, timeout=5) as client:
        client.send_message(_smtp_message("Tanda terima"), to_addrs=["ppk@example.go.id", "cc@example.go.id"])
    [mail] = smtp_server.wait_for(1)
    assert mail.mail_from == "bot@lpse.example.go.id"
    assert mail.rcpt_tos == ["ppk@example.go.id", "cc@example.go.id"]
    assert mail.header("Subject") == "Tanda terima"
    assert mail.header("X-Missing") is None
    assert "Permohonan Anda" in mail.message.get_content()
    assert b"Subject: Tanda terima" in mail.data


def test_smtp_messages_is_a_snapshot_and_clear_empties(smtp_server: FaultySmtp) -> None:
    host, port = smtp_server.start()
    with smtplib.SMTP(host, port, timeout=5) as client:
        client.sendmail("a@example.go.id", ["b@example.go.id"], b"Subject: x\r\n\r\nbody\r\n")
    snapshot = smtp_server.messages
    snapshot.clear()
    assert len(smtp_server.messages) == 1
    smtp_server.clear()
    assert smtp_server.messages == []


def test_smtp_wait_for_across_threads(smtp_server: FaultySmtp) -> None:
    """wait_for blocks until a message sent from another thread lands."""
    host, port = smtp_server.start()

    def send() -> None:
        with smtplib.SMTP(host, port, timeout=5) as client:
            client.send_message(_smtp_message("Dari thread"))

    sender = threading.Thread(target=send)
    sender.start()
    assert smtp_server.wait_for(1, timeout=10)[0].header("Subject") == "Dari thread"
    sender.join()


def test_smtp_wait_for_times_out_with_what_it_had(smtp_server: FaultySmtp) -> None:
    with pytest.raises(TimeoutError, match="got 0"):
        smtp_server.wait_for(1, timeout=0.05)


@pytest.mark.parametrize("code", ["451 4.3.0 Try again later", "554 5.7.1 Ditolak"])
def test_smtp_fail_next_then_recovers(smtp_server: FaultySmtp, code: str) -> None:
    """The next DATA answers the given 4xx/5xx; the one after is accepted again."""
    host, port = smtp_server.start()
    smtp_server.fail_next(1, code)
    with smtplib.SMTP(host, port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPDataError) as failed:
            client.send_message(_smtp_message("Gagal"))
        assert failed.value.smtp_code == int(code[:3])
        client.send_message(_smtp_message("Berhasil"))
    assert [m.header("Subject") for m in smtp_server.messages] == ["Berhasil"]


def test_smtp_fail_next_rejects_success_codes(smtp_server: FaultySmtp) -> None:
    with pytest.raises(ValueError):
        smtp_server.fail_next(1, "250 OK")


def test_smtp_set_down_refuses_then_recovers_on_same_port(smtp_server: FaultySmtp) -> None:
    host, port = smtp_server.start()
    smtp_server.set_down(True)
    with pytest.raises(OSError):
        smtplib.SMTP(host, port, timeout=2)
    smtp_server.set_down(False)
    assert smtp_server.start() == (host, port)
    with smtplib.SMTP(host, port, timeout=5) as client:
        client.send_message(_smtp_message("Pulih"))
    assert smtp_server.wait_for(1)[0].header("Subject") == "Pulih"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_smtp_optional_auth() -> None:
    """With credentials configured, AUTH is offered without TLS and required before MAIL."""
    with EmbeddedSmtp(auth=("bot", "rahasia")) as server:
        host, port = server.start()
        with smtplib.SMTP(host, port, timeout=5) as client:
            with pytest.raises(smtplib.SMTPSenderRefused):
                client.send_message(_smtp_message("Tanpa login"))
        with smtplib.SMTP(host, port, timeout=5) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("bot", "salah")
        with smtplib.SMTP(host, port, timeout=5) as client:
            client.login("bot", "rahasia")
            client.send_message(_smtp_message("Dengan login"))
        assert server.wait_for(1)[0].header("Subject") == "Dengan login"
