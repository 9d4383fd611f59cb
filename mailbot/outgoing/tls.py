"""TLS client contexts, built once per (CA file, verify) pair."""

from __future__ import annotations

import functools
import ssl


@functools.lru_cache(maxsize=8)
def tls_context(ca_file: str = "", verify: bool = True) -> ssl.SSLContext:
    """Loading the system CA store costs ~27 ms: too much to repeat on every poll and every IDLE
    wake-up. The cache lives as long as the process (restart the service after changing a CA file)."""
    context = ssl.create_default_context(cafile=ca_file or None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
