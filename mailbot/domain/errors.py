"""The one exception root of mailbot, and the errors every layer may raise."""

from __future__ import annotations



