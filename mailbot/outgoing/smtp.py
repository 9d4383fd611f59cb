"""The only smtplib user: one SMTP connection per sender, with streamed DATA for large mail."""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from mailbot.domain.errors import MailbotError
from mailbot.outgoing.tls import tls_context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpParams:
    host: str
    port: int
    security: str
    username: str | None
    password: str | None
    timeout: float = 30.0
    verify_tls: bool = True
    ca_file: str = ""
    token: Callable[[], str] | None = None  # XOAUTH2: gives a valid access token (then `password` is unused)


class TemporaryFailure(MailbotError):
    """4xx or a connection problem: retry later."""

    def __init__(self, message: str, connection: bool = False) -> None:
        super().__init__(message)
        self.connection = connection  # the server could not be reached: stop this flush


class PermanentFailure(MailbotError):
    """5xx for the message: do not retry."""


class Sender(Protocol):
    def send(self, from_address: str, recipients: list[str], raw: bytes) -> None: ...
    def close(self) -> None: ...


STREAM_ABOVE = 1024 * 1024  # bytes: larger mails are sent in chunks, not as one dot-stuffed copy


_STREAM_CHUNK = 1024 * 1024


class SmtpSender:
    """One SMTP connection reused for a whole flush; opened lazily."""

    def __init__(self, params: SmtpParams, *, stream_above: int = STREAM_ABOVE,
                 stream_chunk: int = _STREAM_CHUNK) -> None:
        """Mails larger than `stream_above` bytes are sent as DATA written in `stream_chunk`-byte pieces."""
        self.params = params
        self.stream_above = stream_above
        self.stream_chunk = stream_chunk
        self.conn: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        p = self.params
        ctx = tls_context(p.ca_file, p.verify_tls) if p.security != "none" else None
        if p.security == "ssl":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(p.host, p.port, timeout=p.timeout, context=ctx)
        else:
            conn = smtplib.SMTP(p.host, p.port, timeout=p.timeout)
            if p.security == "starttls":
                conn.starttls(context=ctx)
        try:
            if p.username and p.token is not None:
                _xoauth2(conn, p.username, p.token())
            elif p.username:
                conn.login(p.username, p.password or "")
        except BaseException:
            conn.close()
            raise
        return conn

    def send(self, from_address: str, recipients: list[str], raw: bytes) -> None:
        if self.conn is None:
            try:
                self.conn = self._open()
            except (smtplib.SMTPException, OSError, ssl.SSLError, MailbotError) as exc:
                # MailbotError: no OAuth2 access token (the refresh failed); the mail waits in the outbox.
                self._drop()
                raise TemporaryFailure(f"connect {self.params.host}:{self.params.port}: "
                                       f"{type(exc).__name__}: {exc}", connection=True) from exc
        try:
            if len(raw) > self.stream_above:
                refused = _sendmail_streamed(self.conn, from_address, recipients, raw, self.stream_chunk)
            else:
                refused = self.conn.sendmail(from_address, recipients, raw)
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop()
            codes = [c for c, _ in exc.recipients.values()]
            if all(c >= 500 for c in codes):
                raise PermanentFailure(f"recipients refused: {exc.recipients}") from exc
            raise TemporaryFailure(f"recipients refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            self._drop()
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise TemporaryFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except (smtplib.SMTPServerDisconnected, OSError, socket.error, ssl.SSLError) as exc:
            self._drop()
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}", connection=True) from exc
        except smtplib.SMTPException as exc:
            self._drop()
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
        if refused:
            log.warning("SMTP refused some recipients: %s", sorted(refused))

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001 - the connection is already broken
                pass
        self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except Exception:  # noqa: BLE001
                pass
        self.conn = None


_LEADING_DOT = re.compile(rb"(?m)^\.")  # smtplib's own dot-stuffing rule (RFC 5321 §4.5.2)


def _sendmail_streamed(conn: smtplib.SMTP, from_address: str, recipients: list[str], raw: bytes,
                       chunk_size: int = _STREAM_CHUNK) -> dict:
    """smtplib.SMTP.sendmail for a large message, without its three whole copies (dot-stuffed, with
    CRLF appended, with the final "." appended): the DATA is written dot-stuffed chunk by chunk.
    The same commands, replies and exceptions as sendmail."""
    conn.ehlo_or_helo_if_needed()
    options = [f"size={len(raw)}"] if conn.does_esmtp and conn.has_extn("size") else []
    code, reply = conn.mail(from_address, options)
    if code != 250:
        if code == 421:
            conn.close()
        else:
            _rset(conn)
        raise smtplib.SMTPSenderRefused(code, reply, from_address)
    refused: dict = {}
    for rcpt in recipients:
        code, reply = conn.rcpt(rcpt)
        if code not in (250, 251):
            refused[rcpt] = (code, reply)
        if code == 421:
            conn.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(recipients):
        _rset(conn)
        raise smtplib.SMTPRecipientsRefused(refused)
    code, reply = conn.docmd("data")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    view = memoryview(raw)
    pos = 0
    while pos < len(raw):
        end = min(len(raw), pos + chunk_size)
        chunk = bytearray()
        last = pos
        for match in _LEADING_DOT.finditer(raw, pos, end):  # "^" matches only at real line starts
            chunk += view[last:match.start()]
            chunk += b"."
            last = match.start()
        chunk += view[last:end]
        conn.send(chunk)
        pos = end
    conn.send(b".\r\n" if raw.endswith(b"\r\n") else b"\r\n.\r\n")
    code, reply = conn.getreply()
    if code != 250:
        if code == 421:
            conn.close()
        else:
            _rset(conn)
        raise smtplib.SMTPDataError(code, reply)
    return refused


def _xoauth2(conn: smtplib.SMTP, username: str, access_token: str) -> None:
    """AUTH XOAUTH2 with the initial response; the server's error challenge (a JSON status) is answered with
    an empty line, after which it sends the final 535."""
    conn.ehlo_or_helo_if_needed()
    initial = f"user={username}\x01auth=Bearer {access_token}\x01\x01"
    conn.auth("XOAUTH2", lambda challenge=None: "" if challenge else initial, initial_response_ok=True)


def _rset(conn: smtplib.SMTP) -> None:
    try:
        conn.rset()
    except smtplib.SMTPServerDisconnected:
        pass
