"""The one adapter of tesserocr, pypdfium2, Pillow and pillow-heif: the text of image-only PDF pages and of
photos (JPEG, PNG, HEIC), with the confidence of each word, under per-file limits (pages, pixels).

Route (docs/ARCHITECTURE.md, "OCR"): PDF pages rendered by pypdfium2 at `dpi` in grayscale; images
orientation-corrected (EXIF) and converted to grayscale; Tesseract through the tesserocr wheel with
`lang` (default "ind+eng"), page segmentation 1 (automatic, with orientation detection: upside-down scans
read too) and the LSTM engine; one API object per worker process, reused. Third-party modules are imported
inside the functions so that mailbot runs (scans as manual checks) when they or the language data are missing.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailbot.config import OcrSettings

log = logging.getLogger(__name__)

# Why a file was not read (OcrOutcome.problem); the first four are limits, a finding for the admin.
LIMIT_TIME, LIMIT_MEMORY, LIMIT_PAGES, LIMIT_PIXELS = "time", "memory", "pages", "pixels"
UNREADABLE = "unreadable"  # the file cannot be decoded (corrupt image, encrypted or broken PDF)
UNAVAILABLE = "unavailable"  # no worker could start (engine or language data missing)
LIMITS = frozenset({LIMIT_TIME, LIMIT_MEMORY, LIMIT_PAGES, LIMIT_PIXELS})

LOW_CONFIDENCE = 80.0  # a word read with less (0–100) is uncertain: a NIP in it is "ask the admin"
MIN_LAYER_CHARS = 20  # a PDF page with fewer letters/digits in its text layer is read as an image
UNKNOWN_DPI_BELOW = 100  # phone JPEGs say 72 dpi: such metadata is ignored, never used as the resolution
INSTALL_COMMAND = "apt-get install tesseract-ocr-ind tesseract-ocr-eng tesseract-ocr-osd"

_ALNUM = re.compile(r"[^\W_]", re.UNICODE)


@dataclass(frozen=True)
class OcrOutcome:
    """What OCR made of one file: its text (text-layer pages kept as they are), the mean confidence of the
    words it read (None when it read none), each word with its confidence, pages, seconds, and the problem
    that stopped it (None: read)."""

    text: str = ""
    confidence: float | None = None
    words: tuple[tuple[str, float], ...] = ()
    pages: int = 0
    seconds: float = 0.0
    problem: str | None = None

    @property
    def low_confidence_words(self) -> tuple[str, ...]:
        return tuple(word for word, conf in self.words if conf < LOW_CONFIDENCE)


def ocr_available(settings: OcrSettings) -> tuple[bool, str]:
    """Whether OCR can run with these settings, and if not why (naming the fix)."""
    if not settings.enabled:
        return False, "OCR is disabled ([ocr] enabled = false)"
    try:
        import pypdfium2  # noqa: F401
        import tesserocr  # noqa: F401
        from PIL import Image  # noqa: F401
    except ImportError as exc:
        return False, f"the OCR libraries are not installed ({exc}); install mailbot with its dependencies"
    tessdata = Path(settings.tessdata)
    needed = [lang for lang in settings.lang.split("+") if lang] + ["osd"]
    missing = [lang for lang in needed if not (tessdata / f"{lang}.traineddata").is_file()]
    if missing:
        return False, (f"no Tesseract language data for {', '.join(missing)} in {tessdata} (ocr.tessdata); "
                       f"install it with `{INSTALL_COMMAND}`")
    return True, f"Tesseract {_engine_version()}, {settings.lang}, data in {tessdata}"


def _engine_version() -> str:
    import tesserocr

    first = str(tesserocr.tesseract_version()).split()
    return first[1] if len(first) > 1 else "?"


def engine_version() -> str:
    """The tesserocr and Tesseract versions, stored with each result."""
    import tesserocr

    return f"tesserocr {getattr(tesserocr, '__version__', '?')} / tesseract {_engine_version()}"


class Engine:
    """One Tesseract API (created once: loading the language data takes ≈ 0.3 s), reading one file at a time."""

    def __init__(self, tessdata: str, lang: str) -> None:
        import pillow_heif
        import tesserocr

        pillow_heif.register_heif_opener()
        self.api = tesserocr.PyTessBaseAPI(path=str(Path(tessdata)) + "/", lang=lang, psm=tesserocr.PSM.AUTO_OSD,
                                           oem=tesserocr.OEM.LSTM_ONLY)

    def close(self) -> None:
        self.api.End()

    def read(self, data: bytes, file_type: str, limits: OcrSettings,
             on_pages: Callable[[int], None] = lambda n: None) -> OcrOutcome:
        """OCR of one file; `on_pages` is told the number of pages before the reading starts (the worker
        sets its time limit by it). Never raises but MemoryError."""
        t0 = time.monotonic()
        try:
            if file_type == "pdf":
                return self._pdf(data, limits, on_pages, t0)
            return self._image(data, limits, on_pages, t0)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bad file is a finding, never a crash of the worker
            log.info("OCR: unreadable %s (%s: %s)", file_type, type(exc).__name__, exc)
            return OcrOutcome(seconds=time.monotonic() - t0, problem=UNREADABLE)

    def _image(self, data: bytes, limits: OcrSettings, on_pages: Callable[[int], None], t0: float) -> OcrOutcome:
        from PIL import Image, ImageOps

        Image.MAX_IMAGE_PIXELS = limits.max_pixels  # Pillow's decompression-bomb guard, at our limit
        try:
            im = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            return OcrOutcome(pages=1, seconds=time.monotonic() - t0, problem=LIMIT_PIXELS)
        if im.width * im.height > limits.max_pixels:
            return OcrOutcome(pages=1, seconds=time.monotonic() - t0, problem=LIMIT_PIXELS)
        on_pages(1)
        dpi = im.info.get("dpi")
        gray = ImageOps.exif_transpose(im).convert("L")  # a fresh image: no PNG re-encoding in tesserocr
        resolution = int(dpi[0]) if dpi and float(dpi[0]) >= UNKNOWN_DPI_BELOW else None
        words, text = self._recognise(gray, resolution)
        return _outcome([text], words, 1, t0)

    def _pdf(self, data: bytes, limits: OcrSettings, on_pages: Callable[[int], None], t0: float) -> OcrOutcome:
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(data)
        try:
            count = len(pdf)
            if count > limits.max_pages:
                return OcrOutcome(pages=count, seconds=time.monotonic() - t0, problem=LIMIT_PAGES)
            if count == 0:
                return OcrOutcome(seconds=time.monotonic() - t0, problem=UNREADABLE)
            on_pages(count)
            texts: list[str] = []
            words: list[tuple[str, float]] = []
            scale = limits.dpi / 72
            for index in range(count):
                page = pdf[index]
                layer = page.get_textpage().get_text_bounded()
                if len(_ALNUM.findall(layer)) >= MIN_LAYER_CHARS:
                    texts.append(layer)  # a real text layer: nothing to read
                    continue
                width, height = page.get_size()
                if (width * scale) * (height * scale) > limits.max_pixels:
                    return OcrOutcome(pages=count, seconds=time.monotonic() - t0, problem=LIMIT_PIXELS)
                im = page.render(scale=scale, grayscale=True).to_pil()
                page_words, text = self._recognise(im, limits.dpi)
                words += page_words
                texts.append(text)
            return _outcome(texts, words, count, t0)
        finally:
            pdf.close()

    def _recognise(self, im: Any, resolution: int | None) -> tuple[list[tuple[str, float]], str]:
        """One page; a page read with a low mean word confidence (specks, noise) is read once more after a
        3×3 median filter, and the reading with the higher confidence is kept (OCR-NOTES: the filter helps
        speckled pages and harms clean ones, so it is never applied blindly)."""
        from PIL import ImageFilter

        words, text = self._recognise_once(im, resolution)
        confidence = _mean(words)
        if confidence is not None and confidence < RETRY_BELOW_CONFIDENCE:
            again_words, again_text = self._recognise_once(im.filter(ImageFilter.MedianFilter(3)), resolution)
            again = _mean(again_words)
            if again is not None and again > confidence:
                return again_words, again_text
        return words, text

    def _recognise_once(self, im: Any, resolution: int | None) -> tuple[list[tuple[str, float]], str]:
        import tesserocr

        self.api.SetImage(im)
        if resolution:
            self.api.SetSourceResolution(resolution)
        self.api.Recognize()
        words: list[tuple[str, float]] = []
        level = tesserocr.RIL.WORD
        iterator = self.api.GetIterator()
        if iterator is not None:
            for word in tesserocr.iterate_level(iterator, level):
                text = word.GetUTF8Text(level)
                if text and text.strip():
                    words.append((text.strip(), round(float(word.Confidence(level)), 1)))
        text = self.api.GetUTF8Text()
        self.api.Clear()
        return words, text


RETRY_BELOW_CONFIDENCE = 80.0  # a page's mean word confidence under which it is read again, median-filtered


def _mean(words: list[tuple[str, float]]) -> float | None:
    return sum(c for _, c in words) / len(words) if words else None


def _outcome(texts: list[str], words: list[tuple[str, float]], pages: int, t0: float) -> OcrOutcome:
    confidence = round(sum(c for _, c in words) / len(words), 1) if words else None
    return OcrOutcome("\n".join(t.strip() for t in texts if t.strip()), confidence, tuple(words), pages,
                      round(time.monotonic() - t0, 3), None)
