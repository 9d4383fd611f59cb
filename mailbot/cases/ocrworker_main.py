"""The OCR worker's entry point: `python -m mailbot.cases.ocrworker_main MEMORY_MB TESSDATA LANG` runs ocrpool.serve."""

from __future__ import annotations

import sys

from mailbot.cases.ocrpool import serve

if __name__ == "__main__":
    # The loop runs from mailbot.cases.ocrpool (not __main__), so what it pickles names that module.
    serve(int(sys.argv[1]), sys.argv[2], sys.argv[3])
