"""The only imapclient user: select, search, fetch (never setting the \\Seen flag), move and IDLE."""

from __future__ import annotations

import imaplib
import logging
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from mailbot.domain.errors import MailbotError
from mailbot.outgoing.tls import tls_context

log = logging.getLogger(__name__)


class _NoProtocolTrace(logging.Filter):
    """Drops imapclient's protocol trace (every command and response line, i.e. fetched mail with its
    passwords) at any level; its warnings about the connection stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != "imapclient.imaplib" and record.levelno >= logging.WARNING


_TRACE_FILTER = _NoProtocolTrace()
for _name in ("imapclient", "imapclient.imapclient", "imapclient.imaplib", "imapclient.util"):
    logging.getLogger(_name).addFilter(_TRACE_FILTER)  # a logger's filters see only its own records


class MailboxError(MailbotError):
    """The IMAP server could not be reached or refused an operation."""


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    uidnext: int
    messages: int


@dataclass(frozen=True)
class ImapParams:
    host: str
    port: int
    security: str
    username: str
    password: str
    timeout: float = 30.0
    verify_tls: bool = True
    ca_file: str = ""
    token: Callable[[], str] | None = None  # XOAUTH2: gives a valid access token (then `password` is unused)


FETCH_CHUNK = 4 * 1024 * 1024  # bytes per partial FETCH of a large message


def uid_set(uids: list[int]) -> str:
    """Sorted UIDs as an IMAP sequence set: [1, 2, 3, 7] -> "1:3,7"."""
    parts: list[str] = []
    start = prev = uids[0]
    for uid in uids[1:] + [0]:
        if uid == prev + 1:
            prev = uid
            continue
        parts.append(f"{start}:{prev}" if prev > start else str(start))
        start = prev = uid
    return ",".join(parts)


class ImapMailbox:
    """A connected mailbox; use as a context manager. Never sets \\Seen, never deletes mail."""

    def __init__(self, params: ImapParams, *, fetch_chunk: int = FETCH_CHUNK) -> None:
        """`fetch_chunk`: bytes per partial FETCH of a message larger than that (see fetch_raw)."""
        self.params = params
        self.fetch_chunk = fetch_chunk
        self.client: IMAPClient | None = None
        self.capabilities: set[str] = set()
        self.selected: str | None = None
        self.delimiter = "/"

    # -- connection -----------------------------------------------------------------------
    def connect(self) -> "ImapMailbox":
        p = self.params
        context = tls_context(p.ca_file, p.verify_tls) if p.security != "none" else None
        try:
            client = IMAPClient(p.host, port=p.port, ssl=p.security == "ssl",
                                ssl_context=context if p.security == "ssl" else None,
                                timeout=p.timeout)
            if p.security == "starttls":
                client.starttls(context)
            if p.token is not None:
                client.oauth2_login(p.username, p.token())
            else:
                client.login(p.username, p.password)
        except (IMAPClientError, OSError, socket.error, ssl.SSLError, MailbotError) as exc:
            # The password is never part of the message: imapclient does not echo it.
            raise MailboxError(f"IMAP {p.host}:{p.port}: {type(exc).__name__}: {exc}") from exc
        self.client = client
        self.capabilities = {c.decode().upper() if isinstance(c, bytes) else str(c).upper()
                             for c in client.capabilities()}
        self.delimiter = self._server_delimiter()
        return self

    def _server_delimiter(self) -> str:
        """The hierarchy separator ('/' on Gmail/Zimbra, often '.' on Dovecot)."""
        try:
            listing = self._c().list_folders(directory="", pattern="")
        except (IMAPClientError, OSError):
            return "/"
        for _flags, delim, _name in listing:
            if delim:
                return delim.decode() if isinstance(delim, bytes) else str(delim)
        return "/"

    def name(self, folder: str) -> str:
        """Config folder names use '/' as separator; translate to the server's."""
        return folder.replace("/", self.delimiter) if self.delimiter != "/" else folder

    def close(self) -> None:
        if self.client is None:
            return
        try:
            self.client.logout()
        except Exception:  # noqa: BLE001 - closing a dead connection must not raise
            try:
                self.client.shutdown()
            except Exception:  # noqa: BLE001
                pass
        self.client = None
        self.selected = None

    def __enter__(self) -> "ImapMailbox":
        return self.connect() if self.client is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _c(self) -> IMAPClient:
        if self.client is None:
            raise MailboxError("IMAP: not connected")
        return self.client

    def _call(self, what: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return fn(*args, **kwargs)
        except (IMAPClientError, OSError, ssl.SSLError) as exc:
            raise MailboxError(f"IMAP {what}: {type(exc).__name__}: {exc}") from exc

    # -- folders --------------------------------------------------------------------------
    def has(self, capability: str) -> bool:
        return capability.upper() in self.capabilities

    def ensure_folder(self, name: str) -> None:
        c = self._c()
        name = self.name(name)
        if not self._call("folder_exists", c.folder_exists, name):
            try:
                c.create_folder(name)
            except IMAPClientError as exc:
                # Another client may have created it at the same moment.
                if not self._call("folder_exists", c.folder_exists, name):
                    raise MailboxError(f"IMAP create {name!r}: {exc}") from exc

    def status(self, folder: str) -> FolderState:
        st = self._call("status", self._c().folder_status, self.name(folder), [b"UIDVALIDITY", b"UIDNEXT", b"MESSAGES"])
        return FolderState(int(st[b"UIDVALIDITY"]), int(st.get(b"UIDNEXT", 0)), int(st.get(b"MESSAGES", 0)))

    def select(self, folder: str) -> FolderState:
        info = self._call("select", self._c().select_folder, self.name(folder),
                          readonly=False)
        self.selected = folder
        return FolderState(int(info[b"UIDVALIDITY"]), int(info.get(b"UIDNEXT", 0)), int(info.get(b"EXISTS", 0)))

    # -- reading --------------------------------------------------------------------------
    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs greater than last_uid in the selected folder (UID SEARCH, no flags touched)."""
        uids = self._call("search", self._c().search, ["UID", f"{last_uid + 1}:*"])
        # "N:*" always matches the highest UID even when it is <= last_uid: filter it out.
        return sorted(u for u in uids if u > last_uid)

    def all_uids(self) -> list[int]:
        return sorted(self._call("search", self._c().search, ["ALL"]))

    def sizes(self, uids: Iterable[int]) -> dict[int, int]:
        uids = list(uids)
        if not uids:
            return {}
        data = self._call("fetch size", self._c().fetch, uids, [b"RFC822.SIZE"])
        return {uid: int(v.get(b"RFC822.SIZE", 0)) for uid, v in data.items()}

    def fetch_raw(self, uids: Iterable[int], sizes: dict[int, int] | None = None) -> dict[int, bytes]:
        """Full raw bytes via BODY.PEEK[] so the \\Seen flag a person relies on is untouched.

        Messages larger than `fetch_chunk` (by `sizes`, RFC822.SIZE) are fetched in partial ranges: the
        client library's response parsing holds ~3 copies of what one FETCH returns, so this bounds
        that to a chunk, and the message exists once (plus the chunks while they are joined)."""
        uids = list(uids)
        sizes = sizes or {}
        chunk_size = self.fetch_chunk
        big = [u for u in uids if sizes.get(u, 0) > chunk_size]
        small = [u for u in uids if sizes.get(u, 0) <= chunk_size]
        out: dict[int, bytes] = {}
        if small:
            data = self._call("fetch", self._c().fetch, small, [b"BODY.PEEK[]"])
            out = {uid: bytes(v.get(b"BODY[]") or b"") for uid, v in data.items()}
        for uid in big:
            chunks: list[bytes] = []
            offset = 0
            while True:
                data = self._call("fetch", self._c().fetch, [uid], [f"BODY.PEEK[]<{offset}.{chunk_size}>".encode()])
                if uid not in data:
                    break
                chunk = next((bytes(v or b"") for k, v in data[uid].items() if k.startswith(b"BODY[]")), b"")
                del data
                chunks.append(chunk)
                offset += len(chunk)
                if len(chunk) < chunk_size:
                    break
            if chunks:
                out[uid] = b"".join(chunks)
        return out

    def fetch_headers(self, uids: Iterable[int]) -> dict[int, bytes]:
        uids = list(uids)
        if not uids:
            return {}
        data = self._call("fetch headers", self._c().fetch, uids, [b"BODY.PEEK[HEADER]"])
        return {uid: bytes(v.get(b"BODY[HEADER]") or b"") for uid, v in data.items()}

    # -- writing --------------------------------------------------------------------------
    def move(self, uids: Iterable[int], folder: str) -> None:
        """MOVE, or COPY + \\Deleted + UID EXPUNGE of exactly these UIDs when MOVE is absent.

        UIDs go as a compact sequence set (ranges), since servers limit a command's length."""
        uids = sorted(set(uids))
        if not uids:
            return
        c = self._c()
        target = self.name(folder)
        seq = uid_set(uids)
        if self.has("MOVE"):
            self._call("move", c.move, seq, target)
            return
        self._call("copy", c.copy, seq, target)
        self._call("store", c.add_flags, seq, [b"\\Deleted"], silent=True)
        if self.has("UIDPLUS"):
            self._call("uid expunge", c.uid_expunge, seq)
        else:
            log.warning("IMAP server lacks MOVE and UIDPLUS: moved copies stay flagged \\Deleted in %s",
                        self.selected)

    def append(self, folder: str, raw: bytes) -> None:
        self._call("append", self._c().append, self.name(folder), raw)

    # -- push -----------------------------------------------------------------------------
    def _buffered_news(self, c: IMAPClient) -> bool:
        """Lines the server sent together with "+ idling" (e.g. "* 3 EXISTS" for mail that arrived just
        before IDLE) sit in imaplib's read buffer, where idle_check's socket poll cannot see them and
        would wait for the next packet. Read what is buffered without blocking."""
        sock = c.socket()
        sock.setblocking(False)
        changed = False
        try:
            while True:
                try:
                    line = c._imap._get_line()  # the same private reader imapclient's idle_check uses
                except (socket.timeout, OSError, imaplib.IMAP4.error):
                    break  # nothing (complete) buffered; idle_check takes over
                changed = changed or b"EXISTS" in line or b"RECENT" in line
        finally:
            sock.setblocking(True)
            sock.settimeout(self.params.timeout)
        return changed

    def idle_wait(self, timeout: float, should_stop: Callable[[], bool] = lambda: False,
                  tick: float = 1.0) -> bool:
        """Wait in IDLE up to timeout seconds; True when the server reported new mail.

        Checks should_stop every `tick` seconds so a SIGTERM ends the wait promptly."""
        c = self._c()
        self._call("idle", c.idle)
        changed = self._buffered_news(c)
        deadline = time.monotonic() + timeout
        try:
            while not changed and not should_stop() and time.monotonic() < deadline:
                responses = self._call("idle_check", c.idle_check, timeout=tick)
                changed = any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)
        finally:
            self._call("idle_done", c.idle_done)
        return changed
