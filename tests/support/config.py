"""The office's mailbot.toml for a test (the demo's config writer: servers, database, admins)."""

from __future__ import annotations

from mailbot.demo.world import write_config

__all__ = ["write_config"]
