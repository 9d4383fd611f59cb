"""When the helper process is not used, and what the main process does with what it staged."""

from __future__ import annotations

import tempfile

import pytest

from mailbot.intake import prefetch
from mailbot.intake.prefetch import Limits, prepare

LIMITS = Limits(max_attachments=50, max_depth=10, max_header_bytes=256_000, max_attachment_bytes=10 * 2**20)


def test_small_backlogs_and_large_messages_start_no_helper() -> None:
    with prefetch.prefetching([(1, "/nonexistent", 100)] * (prefetch.PREFETCH_MIN - 1), LIMITS) as helper:
        assert helper is None
    big = [(i, "/nonexistent", prefetch.MAX_BYTES + 1) for i in range(prefetch.PREFETCH_MIN * 2)]
    with prefetch.prefetching(big, LIMITS) as helper:
        assert helper is None


def test_unreadable_blob_is_left_to_the_main_process() -> None:
    assert prepare("/nonexistent/blob", LIMITS) is None


def test_a_staged_blob_is_adopted_without_writing_it_again(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from mailbot.store.blobs import BlobStore

    store = BlobStore(tmp_path)
    sha = store.stage(b"isi dokumen")
    store.stage(b"lampiran surat yang diabaikan")

    def no_write(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("put() wrote a blob the helper had staged")

    with monkeypatch.context() as patched:
        patched.setattr(tempfile, "mkstemp", no_write)  # every write of the store starts with a temp file
        assert store.put(b"isi dokumen") == sha and store.get(sha) == b"isi dokumen"
    assert len(list(store.staging.iterdir())) == 1
    store.clear_staging()
    assert list(store.staging.iterdir()) == []
