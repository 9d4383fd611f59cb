"""The content-addressed blob store under data_dir/blobs, written atomically and fsynced."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temp file beside `path`, fsync, rename: a crash never leaves half a file under `path`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class BlobStore:
    """Immutable blobs at data_dir/blobs/ab/cdef…; the same bytes are stored once."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "blobs"
        self._dirs: set[str] = set()  # fan-out directories known to exist (a mkdir costs ~0.3 ms)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:]

    @property
    def staging(self) -> Path:
        """Blobs written ahead by a helper process (mailbot.prefetch), adopted by put() with a rename."""
        return self.root / ".staging"

    def stage(self, data: bytes) -> str:
        """Write `data` (fsynced) where a later put() of the same bytes finds it and only renames it."""
        digest = hashlib.sha256(data).hexdigest()
        if not self.path(digest).exists():
            self.staging.mkdir(parents=True, exist_ok=True)
            write_atomic(self.staging / digest, data)
        return digest

    def clear_staging(self) -> None:
        """Remove what was staged and not adopted (attachments of mail that stored no documents)."""
        if self.staging.is_dir():
            for leftover in self.staging.iterdir():
                leftover.unlink(missing_ok=True)

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        if target.parent.name not in self._dirs:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(target.parent.name)
        try:
            os.replace(self.staging / digest, target)  # written and fsynced by the helper already
            return digest
        except FileNotFoundError:
            pass
        try:
            write_atomic(target, data)
        except FileNotFoundError:  # the directory was removed behind our back: make it again
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, data)
        return digest

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()
