"""Bytes of archive documents: meta.json, data.json(.gz), cluster.json.

One place decides how documents are encoded, when data is gzip-compressed and how a broken
document is reported, so every backend writes byte-compatible archives.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Collection

import orjson
from pydantic import ValidationError

from cc_backend.archive.layout import COMPRESS_ABOVE_BYTES
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData

#: Fields of the database row that are not part of an archived meta.json.
_NOT_ARCHIVED = {"id"}


def encode_meta(job: Job) -> bytes:
    """meta.json bytes of ``job`` (without its database id)."""
    data = job.to_json_dict()
    for key in _NOT_ARCHIVED:
        data.pop(key, None)
    return orjson.dumps(data)


def decode_meta(raw: bytes, where: str = "meta.json") -> Job:
    """Parse meta.json bytes; :class:`InvalidInput` naming ``where`` if they are broken."""
    try:
        return Job.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}"
            for e in exc.errors()[:5]
        )
        raise InvalidInput(f"{where}: {problems}") from None


#: gzip level of written data documents: the fastest one. Archiving compresses every job's
#: data once, and level 1 takes a fraction of level 6's time for files about 15 % larger.
#: Any level reads back the same way (:func:`decode_data`).
GZIP_LEVEL = 1


def encode_data(data: JobData) -> tuple[bytes, bool]:
    """data.json bytes of ``data`` and whether they are gzip-compressed.

    Documents larger than :data:`COMPRESS_ABOVE_BYTES` are compressed, as cc-backend does,
    at :data:`GZIP_LEVEL` and with a zero time stamp in the gzip header, so that the same
    data always gives the same bytes.
    """
    raw = data.to_json()
    if len(raw) > COMPRESS_ABOVE_BYTES:
        return gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0), True
    return raw, False


def decode_data(
    raw: bytes,
    compressed: bool | None = None,
    where: str = "data.json",
    metrics: Collection[str] | None = None,
) -> JobData:
    """Parse data.json bytes, gunzipping them if ``compressed`` (or if they look gzipped when
    ``compressed`` is None); :class:`InvalidInput` naming ``where`` if they are broken.
    ``metrics``: read only these (see :meth:`JobData.from_json`)."""
    if compressed or (compressed is None and raw[:2] == b"\x1f\x8b"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise InvalidInput(f"{where}: not a valid gzip file ({exc})") from None
    try:
        return JobData.from_json(raw, metrics)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}") from None


def encode_cluster(cluster: Cluster) -> bytes:
    """cluster.json bytes of ``cluster``."""
    return cluster.to_json()


def decode_cluster(raw: bytes, where: str = "cluster.json") -> Cluster:
    """Parse cluster.json bytes; :class:`InvalidInput` naming ``where`` if they are broken."""
    try:
        return Cluster.from_json(raw)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}") from None
