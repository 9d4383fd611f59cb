"""The PDF worker's entry point: `python -m mailbot.cases.pdfworker_main MEMORY_MB` runs pdfworker.serve."""

from __future__ import annotations

import sys

from mailbot.cases.pdfworker import serve

if __name__ == "__main__":
    # The loop runs from mailbot.cases.pdfworker (not __main__), so what it pickles names that module.
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
