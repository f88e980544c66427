"""The service reads several scans at once on one shared reader: the readings must be the ones a lone
reader gives (the pipeline's matchers and onnxruntime session are shared between threads)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pipeline.reader import ActaReader
from tests.service.conftest import RUNOFF


def without_timings(doc: Any) -> dict[str, Any]:
    return {k: v for k, v in doc.model_dump(mode="json").items() if k != "timings_ms"}


def test_concurrent_reads_match_serial_reads(reader: ActaReader) -> None:
    scans = [(RUNOFF[0].parent / name).read_bytes() for name in ("mesa_1000551.jpg", "mesa_8002451.jpg")]
    serial = [without_timings(reader.read(d)) for d in scans]
    with ThreadPoolExecutor(len(scans)) as pool:
        concurrent = [without_timings(r) for r in pool.map(reader.read, scans)]
    assert concurrent == serial
