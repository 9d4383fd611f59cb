"""The only pypdf user: the text layer of a PDF's first pages, or why it cannot be read."""

from __future__ import annotations

import gc
import io
import logging
import warnings

from pypdf import PageObject, PdfReader

log = logging.getLogger(__name__)

_COLLECT_AFTER = 1024 * 1024  # PDF size above which pdf_text frees pypdf's objects at once


def pdf_text(data: bytes, max_pages: int = 30) -> tuple[str, str | None]:
    """Return the text of the first `max_pages` pages and a problem ("encrypted", "corrupt" or None).

    Never raises but MemoryError (which the PDF worker reports as its memory limit): pypdf signals
    broken files with many exception types, and a bad attachment must never stop the processing of
    its message.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not _decrypt_without_password(reader):
                return "", "encrypted"
            pages = list(reader.pages)[:max_pages]
            if not pages:
                return "", "corrupt"
            texts = [_page_text(page) for page in pages]
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - see docstring
        log.info("unreadable PDF (%s): %s", type(exc).__name__, exc)
        return "", "corrupt"
    finally:
        if len(data) > _COLLECT_AFTER:
            # pypdf's objects form reference cycles that hold the streams it read (a scan's image data
            # included) until the cyclic collector runs: free them now, not some messages later.
            reader = pages = None  # type: ignore[assignment]  # noqa: F841
            gc.collect()
    if all(text is None for text in texts):
        return "", "corrupt"
    return "\n".join(text for text in texts if text), None


def _decrypt_without_password(reader: PdfReader) -> bool:
    """Open a PDF that is encrypted with an empty user password (owner restrictions only)."""
    try:
        return bool(reader.decrypt(""))
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. AES without a crypto provider
        log.info("cannot decrypt PDF (%s): %s", type(exc).__name__, exc)
        return False


def _page_text(page: PageObject) -> str | None:
    """Return one page's text, or None when the page itself is broken."""
    try:
        return page.extract_text() or ""
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - one bad page must not hide the others
        log.info("unreadable PDF page (%s): %s", type(exc).__name__, exc)
        return None
