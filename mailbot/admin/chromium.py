"""Headless Chromium, the one adapter that turns an HTML page into a PDF or a PNG (the report's A4 PDF,
the screenshots in docs/). Offline: no network, no extensions, no profile but a throw-away one."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from mailbot.domain.errors import MailbotError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--mute-audio")
INSTALL_HINT = "install the Debian package `chromium` (apt-get install chromium)"


class ChromiumMissing(MailbotError):
    """No Chromium on this machine: exit 2 naming the package to install."""


class ChromiumFailed(MailbotError):
    """Chromium ran but wrote nothing usable."""


def find_chromium() -> str | None:
    """The Chromium to use: $MAILBOT_CHROMIUM, else the first of CANDIDATES on PATH or in /usr/bin."""
    override = os.environ.get("MAILBOT_CHROMIUM")
    if override:
        return override if Path(override).is_file() else None
    for name in CANDIDATES:
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").is_file() else None)
        if found:
            return found
    return None


def _run(html: str, out: Path, action: list[str], timeout: float) -> Path:
    exe = find_chromium()
    if exe is None:
        raise ChromiumMissing(f"headless Chromium is needed for this: {INSTALL_HINT}")
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mailbot-chromium-") as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(html, encoding="utf-8")
        target = Path(tmp) / f"out{out.suffix}"
        argv = [exe, *FLAGS, f"--user-data-dir={Path(tmp) / 'profile'}", *(a.format(out=target) for a in action),
                page.as_uri()]
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=timeout, check=False,
                                  env={**os.environ, "HOME": tmp})
        except subprocess.TimeoutExpired:
            raise ChromiumFailed(f"Chromium did not finish within {timeout:.0f} s") from None
        if not target.is_file() or target.stat().st_size == 0:
            tail = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
            raise ChromiumFailed(f"Chromium wrote no {out.suffix} (exit {proc.returncode}: {tail[:200]})")
        shutil.move(str(target), out)
    return out


def html_to_pdf(html: str, out: Path, *, timeout: float = 120) -> Path:
    """Print the page as the page's own @page rule says (the report: A4), without header and footer."""
    return _run(html, out, ["--print-to-pdf={out}", "--no-pdf-header-footer"], timeout)


def screenshot(html: str, out: Path, *, width: int, height: int, timeout: float = 120) -> Path:
    """A PNG of the page's first `width` × `height` CSS pixels."""
    return _run(html, out, [f"--window-size={width},{height}", "--screenshot={out}"], timeout)
