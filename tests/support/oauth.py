"""A small OAuth2 identity provider on loopback (token endpoint with refresh-token rotation, device-code
grant, RFC 7662 introspection for Dovecot's oauth2 passdb) and an SMTP server that accepts XOAUTH2."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from mailbot.demo.servers import LOOPBACK
from tests.support.servers import FaultySmtp, _FaultyHandler


@dataclass
class Grant:
    username: str
    expires_at: float


@dataclass
class FakeIdentityProvider:
    """Issues access tokens that live `access_ttl` seconds and rotates the refresh token at every refresh
    (the old one is revoked at once: stricter than Microsoft and Google, so a lost rotation shows)."""

    username: str
    access_ttl: float = 3600.0
    access: dict[str, Grant] = field(default_factory=dict)
    refresh: dict[str, str] = field(default_factory=dict)  # valid refresh token -> username
    refusing: bool = False  # answer every refresh with invalid_grant (the grant was revoked)
    device_pending: int = 1  # polls answered authorization_pending before the device code is approved
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    introspections: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # -- tokens ---------------------------------------------------------------------------
    def issue(self, *, expired: bool = False) -> tuple[str, str]:
        """A fresh (access, refresh) pair, as a first login would give; `expired`: the access token is dead."""
        with self.lock:
            access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            self.access[access] = Grant(self.username, time.time() + (-1 if expired else self.access_ttl))
            self.refresh[refresh] = self.username
            return access, refresh

    def valid(self, access_token: str) -> str | None:
        with self.lock:
            grant = self.access.get(access_token)
            return grant.username if grant and grant.expires_at > time.time() else None

    def refreshes(self) -> int:
        return sum(1 for path, form in self.calls if path == "/token" and form.get("grant_type") == "refresh_token")

    # -- HTTP -----------------------------------------------------------------------------
    def _answer(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls.append((path, form))
        if path == "/introspect":
            token = form.get("token", "")
            self.introspections.append(token)
            user = self.valid(token)
            return 200, ({"active": True, "username": user} if user else {"active": False})
        if path == "/device":
            return 200, {"device_code": "dev-" + secrets.token_hex(4), "user_code": "ABCD-EFGH",
                         "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900,
                         "interval": 0}
        if path != "/token":
            return 404, {"error": "not_found"}
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            with self.lock:
                if self.device_pending > 0:
                    self.device_pending -= 1
                    return 400, {"error": "authorization_pending"}
            access, refresh = self.issue()
            return 200, {"access_token": access, "refresh_token": refresh, "expires_in": int(self.access_ttl),
                         "token_type": "Bearer"}
        if grant == "refresh_token":
            with self.lock:
                user = None if self.refusing else self.refresh.pop(form.get("refresh_token", ""), None)
            if user is None:
                return 400, {"error": "invalid_grant", "error_description": "AADSTS70000: The refresh token was revoked."}
            access, refresh = self.issue()
            return 200, {"access_token": access, "refresh_token": refresh, "expires_in": int(self.access_ttl),
                         "token_type": "Bearer"}
        return 400, {"error": "unsupported_grant_type"}

    def start(self) -> str:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()}
                status, body = provider._answer(urllib.parse.urlsplit(self.path).path, form)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass
class _XoauthHandler(_FaultyHandler):
    """The capturing handler with an AUTH XOAUTH2 mechanism (aiosmtpd finds handlers' auth_<NAME> methods)."""

    provider: FakeIdentityProvider | None = None
    logins: list[str] = field(default_factory=list)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802
        raw = base64.b64decode(args[1]).decode() if len(args) > 1 else ""
        fields = dict(part.split("=", 1) for part in raw.split("\x01") if "=" in part)
        token = fields.get("auth", "").removeprefix("Bearer ")
        user = self.provider.valid(token) if self.provider else None
        if user is None or user != fields.get("user"):
            return AuthResult(success=False, handled=False)
        self.logins.append(user)
        return AuthResult(success=True, handled=False, auth_data=user)


class XoauthSmtp(FaultySmtp):
    """The capturing SMTP server, requiring AUTH XOAUTH2 with a token the identity provider issued."""

    def __init__(self, provider: FakeIdentityProvider) -> None:
        super().__init__()
        self._handler = _XoauthHandler(self._lock, provider=provider)

    @property
    def logins(self) -> list[str]:
        return self._handler.logins  # type: ignore[attr-defined, no-any-return]

    def _new_controller(self, port: int) -> Controller:
        return Controller(self._handler, hostname=LOOPBACK, port=port, server_hostname="localhost",
                          ready_timeout=10.0, auth_required=True, auth_require_tls=False)
