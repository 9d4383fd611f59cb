"""mailbot: email-driven intake of PPK password-reset and user-ID requests for LPSE offices."""

from __future__ import annotations

__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)


def version() -> str:
    """The installed distribution's version (importlib.metadata), else `__version__` (a source tree)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("mailbot")
    except PackageNotFoundError:
        return __version__
