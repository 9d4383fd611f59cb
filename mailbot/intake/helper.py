"""The prefetch helper process's entry point: `python -m mailbot.intake.helper` runs prefetch.serve."""

from __future__ import annotations

from mailbot.intake.prefetch import serve

if __name__ == "__main__":
    # The loop runs from mailbot.intake.prefetch (not __main__), so what it pickles names that module.
    serve()
