"""How data.json documents are encoded: when they are gzipped, and that any gzip reads back."""

from __future__ import annotations

import gzip
from collections.abc import Callable

import pytest

from cc_backend.archive.codec import decode_data, encode_data
from cc_backend.archive.layout import COMPRESS_ABOVE_BYTES
from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData

ArchivedJob = Callable[..., tuple[Job, JobData]]


class TestEncodeData:
    def test_a_small_document_stays_plain(self, archived_job: ArchivedJob) -> None:
        _, data = archived_job(samples=5)
        payload, compressed = encode_data(data)
        assert not compressed
        assert payload == data.to_json()
        assert len(payload) <= COMPRESS_ABOVE_BYTES

    def test_a_large_document_is_gzipped_and_decodes_equal(self, archived_job: ArchivedJob) -> None:
        _, data = archived_job(samples=200)
        payload, compressed = encode_data(data)
        assert compressed
        assert gzip.decompress(payload) == data.to_json()
        assert decode_data(payload, compressed=True) == data
        assert decode_data(payload) == data  # recognised by its magic bytes

    def test_the_same_data_gives_the_same_bytes(self, archived_job: ArchivedJob) -> None:
        _, data = archived_job(samples=200)
        first, _ = encode_data(data)
        second, _ = encode_data(data)
        assert first == second
        assert first[4:8] == b"\0\0\0\0"  # no modification time in the gzip header


class TestDecodeData:
    @pytest.mark.parametrize("level", [1, 6, 9])
    def test_files_written_at_any_gzip_level_read_back(
        self, archived_job: ArchivedJob, level: int
    ) -> None:
        """Archives written before (level 6, with a time stamp) or by other tools."""
        _, data = archived_job(samples=200)
        payload = gzip.compress(data.to_json(), compresslevel=level, mtime=1_700_000_000)
        assert decode_data(payload, compressed=True) == data

    def test_a_broken_gzip_file_is_an_invalid_input_naming_it(
        self, archived_job: ArchivedJob
    ) -> None:
        _, data = archived_job(samples=200)
        payload, _ = encode_data(data)
        with pytest.raises(InvalidInput, match=r"fritz/1/data\.json\.gz: not a valid gzip"):
            decode_data(payload[: len(payload) // 2], compressed=True, where="fritz/1/data.json.gz")
