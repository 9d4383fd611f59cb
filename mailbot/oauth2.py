"""OAuth2 for the mailbox (XOAUTH2 over IMAP and SMTP): the token file, refresh with rotation, and the
device-code login (RFC 8628) of `mailbot oauth login`. The only HTTP client of mailbot (urllib).

Microsoft 365 and Google both rotate refresh tokens: every refresh may answer with a new refresh token and
the old one stops working some time later. The new one is written to the token file (mode 600, replaced
atomically) before the access token is used, so a restart carries on with the newest — the failure that
ended other helpdesks' mailboxes after 90 days. Tokens never appear in a log line or an error message."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailbot.config import OAuthSettings
from mailbot.domain.errors import MailbotError

log = logging.getLogger(__name__)

REFRESH_MARGIN = 300.0  # seconds before expiry at which the access token is refreshed
HTTP_TIMEOUT = 30.0
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

# What each provider needs, by `[oauth2] provider`; `custom` names its own URLs.
PROVIDERS: dict[str, dict[str, str]] = {
    "microsoft": {
        "device_url": "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode",
        "token_url": "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
        "scope": "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send "
                 "offline_access",
    },
    "google": {
        "device_url": "https://oauth2.googleapis.com/device/code",
        "token_url": "https://oauth2.googleapis.com/token",
        "scope": "https://mail.google.com/",
    },
}


class OAuthError(MailbotError):
    """No usable token: none obtained yet, the refresh was refused, or the identity provider is unreachable."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused  # the provider said no (invalid_grant …): a person must log in again


class _Pending(MailbotError):
    """The device-code login is not approved yet (authorization_pending / slow_down)."""

    def __init__(self, slow_down: bool) -> None:
        super().__init__("authorization pending")
        self.slow_down = slow_down


@dataclass(frozen=True)
class Token:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float  # epoch seconds
    scope: str = ""


@dataclass(frozen=True)
class Endpoints:
    device_url: str
    token_url: str
    scope: str


def endpoints(settings: OAuthSettings) -> Endpoints:
    """The provider's URLs and scope, with the config's own values taking precedence."""
    known = PROVIDERS.get(settings.provider, {})

    def pick(key: str) -> str:
        value = getattr(settings, key) or known.get(key, "")
        return value.replace("{tenant}", settings.tenant)

    return Endpoints(pick("device_url"), pick("token_url"), pick("scope"))


class TokenFile:
    """The token kept on disk: JSON, mode 600, replaced atomically (write, fsync, rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Token | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        if st.st_mode & 0o077:
            raise OAuthError(f"{self.path}: readable by others (mode {st.st_mode & 0o777:o}); "
                             f"run `chmod 600 {self.path}`")
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return Token(str(raw["access_token"]), str(raw["refresh_token"]), float(raw["expires_at"]),
                         str(raw.get("scope", "")))
        except PermissionError:
            raise OAuthError(f"{self.path}: not readable by this user; run mailbot as the service user "
                             f"or `chown` the file to it") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise OAuthError(f"{self.path}: not a token file ({type(exc).__name__}); "
                             f"run `mailbot oauth login` again") from None

    def save(self, token: Token) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        data = json.dumps({"access_token": token.access_token, "refresh_token": token.refresh_token,
                           "expires_at": token.expires_at, "scope": token.scope}).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        try:
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _post(url: str, form: dict[str, str]) -> dict[str, Any]:
    """POST a form, return the JSON answer. An error answer raises OAuthError naming the provider's error code
    (never the form: it holds the refresh token or the client secret)."""
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST",
                                     headers={"Accept": "application/json",
                                              "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as answer:  # noqa: S310 - https or loopback only
            return dict(json.loads(answer.read(1 << 20)))
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read(1 << 16))
        except ValueError:
            body = {}
        code = str(body.get("error", "")) if isinstance(body, dict) else ""
        if code in ("authorization_pending", "slow_down"):
            raise _Pending(code == "slow_down") from None
        description = str(body.get("error_description", "")).splitlines()[0][:160] if isinstance(body, dict) \
            and body.get("error_description") else ""
        raise OAuthError(f"{_host(url)} refused ({exc.code} {code or 'error'}{': ' + description if description else ''})",
                         refused=code in ("invalid_grant", "invalid_client", "unauthorized_client",
                                          "access_denied", "expired_token")) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OAuthError(f"{_host(url)} unreachable ({type(exc).__name__}: {reason})") from None


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _token_from(answer: dict[str, Any], now: float, previous: Token | None) -> Token:
    access = answer.get("access_token")
    if not access:
        raise OAuthError("the identity provider's answer has no access_token")
    refresh = answer.get("refresh_token") or (previous.refresh_token if previous else "")
    if not refresh:
        raise OAuthError("the identity provider gave no refresh token; ask for the offline_access scope")
    return Token(str(access), str(refresh), now + float(answer.get("expires_in", 3600)),
                 str(answer.get("scope", previous.scope if previous else "")))


class TokenSource:
    """Hands out a valid access token, refreshing (and persisting a rotated refresh token) before expiry.
    One per process; thread-safe (the poll, the IDLE connection and the outbox may ask at once)."""

    def __init__(self, settings: OAuthSettings, token_file: Path, client_secret: str | None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.file = TokenFile(token_file)
        self.client_secret = client_secret
        self.clock = clock
        self.lock = threading.Lock()
        self.token: Token | None = None
        self.refreshes = 0
        self.last_error: str | None = None

    def _form(self, **extra: str) -> dict[str, str]:
        form = {"client_id": self.settings.client_id, **extra}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        return form

    def access_token(self) -> str:
        with self.lock:
            token = self.file.load() if self.token is None else self.token
            if token is None:
                raise OAuthError(f"no OAuth2 token in {self.file.path}; run `mailbot oauth login`")
            if token.expires_at - self.clock() < REFRESH_MARGIN:
                token = self._refresh(token)
            self.token = token
            return token.access_token

    def expires_at(self) -> float | None:
        """When the current access token expires (None: no token yet); for `mailbot status`."""
        with self.lock:
            token = self.token
        if token is None:
            try:
                token = self.file.load()
            except OAuthError:
                return None
        return token.expires_at if token else None

    def _refresh(self, token: Token) -> Token:
        ep = endpoints(self.settings)
        try:
            answer = _post(ep.token_url, self._form(grant_type="refresh_token", refresh_token=token.refresh_token,
                                                    scope=ep.scope))
        except OAuthError as exc:
            self.last_error = str(exc)
            log.error("OAuth2 refresh failed: %s", exc)
            raise
        new = _token_from(answer, self.clock(), token)
        self.file.save(new)  # before use: a rotated refresh token must survive a crash right after this
        self.refreshes += 1
        self.last_error = None
        log.info("OAuth2 access token refreshed (valid %d s%s)", int(new.expires_at - self.clock()),
                 "; refresh token rotated and saved" if new.refresh_token != token.refresh_token else "")
        return new

    def device_login(self, say: Callable[[str], None], sleep: Callable[[float], None] = time.sleep,
                     timeout: float = 900.0) -> Token:
        """RFC 8628: show the user the code and the address, wait for the approval, save the token."""
        ep = endpoints(self.settings)
        start = _post(ep.device_url, self._form(scope=ep.scope))
        uri = start.get("verification_uri") or start.get("verification_url") or ""
        say(str(start.get("message") or f"Open {uri} and enter the code {start.get('user_code', '')}"))
        interval = float(start.get("interval", 5))
        deadline = self.clock() + min(float(start.get("expires_in", timeout)), timeout)
        while self.clock() < deadline:
            sleep(interval)
            try:
                answer = _post(ep.token_url, self._form(grant_type=DEVICE_GRANT,
                                                        device_code=str(start.get("device_code", ""))))
            except _Pending as pending:
                if pending.slow_down:
                    interval += 5
                continue
            token = _token_from(answer, self.clock(), None)
            with self.lock:
                self.file.save(token)
                self.token = token
            return token
        raise OAuthError("the code was not approved in time; run `mailbot oauth login` again")
