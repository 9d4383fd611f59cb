"""Loopback IMAP (pymap) and SMTP (aiosmtpd) servers for the demo: start, stop, capture."""

from __future__ import annotations

import atexit
import base64
import email
import email.policy
import hashlib
import itertools
import mailbox
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

LOOPBACK = "127.0.0.1"

# pymap reads the round count from the stored digest; 1000 rounds keeps LOGIN instant.
_PBKDF2_ROUNDS = 1000


@dataclass(frozen=True)
class ImapEndpoint:
    """Where and how to log in to a running IMAP server."""

    host: str
    port: int
    username: str
    password: str
    kind: str  # "pymap" | "dovecot"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_greeting(host: str, port: int, timeout: float,
                      alive: Callable[[], bool] = lambda: True) -> bytes:
    """Poll host:port until it accepts a connection and sends a greeting line.

    Raises RuntimeError as soon as `alive()` turns false (the server died) and
    TimeoutError when the deadline passes.
    """
    deadline = time.monotonic() + timeout
    while True:
        if not alive():
            raise RuntimeError(f"server on {host}:{port} exited before it was ready")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no greeting from {host}:{port} within {timeout:.1f}s")
        try:
            with socket.create_connection((host, port), timeout=min(remaining, 2.0)) as sock:
                greeting = sock.makefile("rb").readline()
            if greeting:
                return greeting
        except OSError:
            pass
        time.sleep(0.02)  # poll back-off: nothing to block on until the server listens


def pbkdf2_digest(password: str, rounds: int = _PBKDF2_ROUNDS) -> str:
    """Hash a password in the `$pbkdf2-sha256$rounds$salt$digest` form pysasl verifies."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, rounds)
    b64 = lambda raw: base64.b64encode(raw).decode("ascii")  # noqa: E731
    return f"$pbkdf2-sha256${rounds}${b64(salt)}${b64(digest)}"


def parent_death_hook() -> Callable[[], None] | None:
    """Return a preexec hook that SIGTERMs the child when its parent dies (Linux only).

    This covers a test run or demo that is killed without running atexit hooks.
    PR_SET_PDEATHSIG fires when the creating *thread* exits, so it is only used
    when the server is started from the main thread.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    import ctypes

    # Resolved before fork: loading a library in the forked child could deadlock.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))

    return hook


def stop_process(proc: subprocess.Popen[bytes], grace: float = 3.0, group: bool = False) -> None:
    """Terminate a child process, escalating to SIGKILL after `grace` seconds.

    With `group`, the signals go to the child's whole process group (it must have
    been started with start_new_session=True), so its own children stop too.
    """
    def send(sig: int) -> None:
        try:
            os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
        except ProcessLookupError:
            pass

    if proc.poll() is not None:
        return
    send(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait()


class EmbeddedImap:
    """A pymap IMAP server (maildir backend) in a subprocess on 127.0.0.1.

    Mail lives under `workdir`, so a stop and a start keep it. Users are plain files
    that pymap re-reads at every login, so `add_user()` works while running.
    """

    def __init__(self, username: str = "lpse", password: str = "demo-secret",
                 workdir: Path | None = None) -> None:
        self.username = username
        self.password = password
        self._owns_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="mailbot-pymap-")) if workdir is None else workdir
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._users: dict[str, tuple[str, str]] = {}  # name -> (password, digest)
        self._user_numbers = itertools.count(1)
        self.add_user(username, password)

    @property
    def mail_dir(self) -> Path:
        return self.workdir / "mail"

    @property
    def log_path(self) -> Path:
        return self.workdir / "pymap.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def endpoint(self, username: str | None = None) -> ImapEndpoint:
        """The endpoint for `username` (default: the main user); the server must have started."""
        if self.port is None:
            raise RuntimeError("EmbeddedImap has not been started")
        name = username or self.username
        return ImapEndpoint(LOOPBACK, self.port, name, self._users[name][0], "pymap")

    def add_user(self, username: str, password: str) -> ImapEndpoint | None:
        """Create (or re-key) a user with an empty mailbox; effective immediately."""
        if ":" in username or "\n" in username or "\n" in password:
            raise ValueError("user names may not contain ':' or newlines")
        self._users[username] = (password, pbkdf2_digest(password))
        self._write_user_files()
        return self.endpoint(username) if self.port is not None else None

    def new_user(self) -> ImapEndpoint:
        """A running server's endpoint for a never-used user `u<N>`: an empty mailbox."""
        name = next(f"u{n}" for n in self._user_numbers if f"u{n}" not in self._users)
        ep = self.add_user(name, self.password)
        if ep is None:
            raise RuntimeError("EmbeddedImap has not been started")
        return ep

    def deliver(self, raw: bytes, username: str | None = None) -> None:
        """Drop a message into a user's INBOX the way an MTA does (maildir tmp/ -> new/).

        No IMAP client is involved, so the demo can play the sender without one;
        pymap assigns the UID when a session next looks at the INBOX.
        """
        name = username or self.username
        if name not in self._users:
            raise KeyError(f"unknown user {name!r}")
        mailbox.Maildir(str(self.mail_dir / name), create=True).add(raw)

    def _write_user_files(self) -> None:
        # pymap's maildir backend keeps passwd/shadow-style files in its base dir;
        # the home field is the user's maildir, relative to that base dir.
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        # passwd fields: name:password:uid:gid:comment:home:shell
        passwd = "".join(f"{name}:::::{name}:\r\n" for name in self._users)
        shadow = "".join(f"{name}:{digest}\r\n" for name, (_pw, digest) in self._users.items())
        for file_name, text in (("pymap-etc-passwd", passwd), ("pymap-etc-shadow", shadow)):
            tmp = self.mail_dir / f".{file_name}.tmp"
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.mail_dir / file_name)  # atomic: a login never reads half a file

    def start(self, timeout: float = 15.0) -> ImapEndpoint:
        """Launch pymap and return once it has sent its IMAP greeting."""
        if self.running:
            return self.endpoint()
        self.port = self.port or free_port()
        # `python -m mailbot.demo.pymap_server ARGS` runs pymap's CLI with the fixes in run_pymap().
        cmd = [sys.executable, "-m", "mailbot.demo.pymap_server",
               "--no-service", "admin", "--no-service", "managesieve", "--no-service", "swim",
               "--host", LOOPBACK, "--port", str(self.port), "--no-tls",
               "maildir", str(self.mail_dir)]
        # FQDN short-circuits pymap's socket.getfqdn() greeting, which can stall on DNS.
        package_root = str(Path(__file__).resolve().parents[2])
        python_path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "FQDN": "localhost", "PYTHONUNBUFFERED": "1", "PYTHONPATH": python_path}
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                          env=env, preexec_fn=parent_death_hook())
        atexit.register(self._stop_at_exit)
        try:
            wait_for_greeting(LOOPBACK, self.port, timeout, alive=lambda: self.running)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise RuntimeError(f"pymap failed to start: {exc}\n{self.read_log()}") from exc
        return self.endpoint()

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """Stop the server process; mail and users stay on disk."""
        atexit.unregister(self._stop_at_exit)
        if self._proc is not None:
            stop_process(self._proc)
            self._proc = None

    def close(self) -> None:
        """Stop the server and delete the work directory if this object created it."""
        self.stop()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _stop_at_exit(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()

    def __enter__(self) -> EmbeddedImap:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@dataclass(frozen=True)
class ReceivedMail:
    """One message accepted by EmbeddedSmtp, exactly as the client sent it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    peer: tuple[str, int] | None = None  # the client's address and port: one per SMTP connection

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return None if value is None else str(value)


@dataclass
class _CaptureHandler:
    """aiosmtpd handler: records every message it accepts."""

    lock: threading.Condition
    messages: list[ReceivedMail] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        with self.lock:
            content = envelope.original_content or envelope.content or b""
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            peer = tuple(session.peer[:2]) if isinstance(session.peer, tuple) else None
            self.messages.append(ReceivedMail(envelope.mail_from or "", list(envelope.rcpt_tos), data, peer))
            self.lock.notify_all()
        return "250 2.0.0 Message accepted for delivery"


class EmbeddedSmtp:
    """An aiosmtpd server on 127.0.0.1 that captures every message it accepts."""

    def __init__(self, auth: tuple[str, str] | None = None) -> None:
        """`auth`: optional (username, password) to offer and require AUTH PLAIN/LOGIN without TLS."""
        self._lock = threading.Condition()
        self._handler = _CaptureHandler(self._lock)
        self._auth = auth
        self._controller: Controller | None = None
        self.port: int | None = None

    @property
    def host(self) -> str:
        return LOOPBACK

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        ok = (self._auth is not None and isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == self._auth[0]
              and auth_data.password.decode() == self._auth[1])
        return AuthResult(success=ok, handled=False)

    def _new_controller(self, port: int) -> Controller:
        kwargs: dict[str, Any] = {"server_hostname": "localhost", "ready_timeout": 10.0}
        if self._auth is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=False)
        return Controller(self._handler, hostname=LOOPBACK, port=port, **kwargs)

    def start(self) -> tuple[str, int]:
        if self._controller is None:
            self.port = self.port or free_port()
            self._controller = self._new_controller(self.port)
            self._controller.start()
        assert self.port is not None
        return LOOPBACK, self.port

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._handler.messages)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Block until at least `count` messages arrived; TimeoutError lists what did."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._handler.messages) >= count, timeout):
                got = [(m.mail_from, m.rcpt_tos, m.header("Subject")) for m in self._handler.messages]
                raise TimeoutError(f"expected {count} message(s) within {timeout}s, got {len(got)}: {got}")
            return list(self._handler.messages)

    def clear(self) -> None:
        with self._lock:
            self._handler.messages.clear()

    def __enter__(self) -> EmbeddedSmtp:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
