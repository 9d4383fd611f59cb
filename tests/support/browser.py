"""Render HTML in headless Chromium: the content height at a given width, and a PNG screenshot.

Headless Chromium will not make its window narrower than about 500 px, so the page is shown inside an
iframe of exactly the asked width (a `srcdoc` frame: same origin, so the host page can measure it), and
the screenshot is cropped to that width. Each call uses a fresh profile directory and no network.
"""

from __future__ import annotations

import html
import io
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio", "--disable-extensions")
MIN_WINDOW = 520  # wider than headless Chromium's smallest window
TIMEOUT = 60


@dataclass(frozen=True)
class Rendering:
    width: int
    height: int  # CSS pixels of the content at `width`
    png: bytes  # a screenshot of the whole content, `width` × `height`


def chromium() -> str | None:
    """The Chromium executable, or None when none is installed."""
    for path in (os.environ.get("MAILBOT_CHROMIUM", ""), *CHROMIUM_CANDIDATES):
        if path and os.access(path, os.X_OK):
            return path
    found = shutil.which("chromium")
    return found


def _host_page(page: str, width: int, frame_height: int) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>-</title></head>"
        "<body style='margin:0; padding:0; background:#ffffff;'>"
        f"<iframe id='f' scrolling='no' style='display:block; border:0; margin:0; width:{width}px;"
        f" height:{frame_height}px;' srcdoc=\"{html.escape(page, quote=True)}\""
        " onload=\"var d=this.contentDocument; document.title='H'+Math.ceil(Math.max("
        "d.documentElement.getBoundingClientRect().height, d.body.getBoundingClientRect().height))\">"
        "</iframe></body></html>")


def _run(browser: str, args: list[str], host: str, workdir: Path, window: tuple[int, int]) -> str:
    page = workdir / "host.html"
    page.write_text(host, encoding="utf-8")
    profile = tempfile.mkdtemp(prefix="profile-", dir=workdir)
    cmd = [browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={window[0]},{window[1]}",
           *args, page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, check=False, cwd=workdir,
                          env={**os.environ, "HOME": str(workdir)})
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}")
    return done.stdout.decode("utf-8", "replace")


def render(page: str, width: int, *, screenshot: bool = True) -> Rendering:
    """Lay `page` (a whole HTML document) out `width` CSS pixels wide; its height and a screenshot."""
    browser = chromium()
    if browser is None:
        raise FileNotFoundError("chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="mailbot-browser-") as tmp:
        workdir = Path(tmp)
        window = (max(width, MIN_WINDOW), 200)
        dom = _run(browser, ["--dump-dom"], _host_page(page, width, 50), workdir, window)
        m = re.search(r"<title>H(\d+)</title>", dom)
        if m is None:
            raise RuntimeError("chromium did not report the page height")
        height = int(m.group(1))
        png = b""
        if screenshot:
            shot = workdir / "shot.png"
            _run(browser, [f"--screenshot={shot}"], _host_page(page, width, height), workdir,
                 (max(width, MIN_WINDOW), height))
            png = _crop(shot.read_bytes(), width, height)
    return Rendering(width, height, png)


def _crop(png: bytes, width: int, height: int) -> bytes:
    """The screenshot cut to the frame, saved as a small palette PNG."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        part = img.convert("RGB").crop((0, 0, min(width, img.width), min(height, img.height)))
        out = io.BytesIO()
        part.quantize(colors=64).save(out, format="PNG", optimize=True)
        return out.getvalue()
