"""Fuzz the upload path: real scans and mutations of them (truncated, bytes flipped, chunks inserted or
cut, junk appended, two files spliced, headers damaged, other formats) sent to `POST /actas` of the real
app (shipped model, SQLite in a temporary folder), with hypothesis choosing the mutations.

    python -m bench.fuzz_upload                    # 150 s, seed 2026
    python -m bench.fuzz_upload --seconds 60 --seed 7 --json fuzz.json

Fails (exit 1) on any 5xx, any status the API does not document for uploads (200, 201, 413, 415, 422),
or an answer that is not the JSON error body. Prints inputs tried, time, and outcomes by status and code.
Bounded in time: hypothesis stops generating once --seconds have passed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image

from bench.load import sample_scans

DOCUMENTED = {200, 201, 413, 415, 422}


class TimeUp(Exception):
    """Raised from the property once the time budget is spent: ends hypothesis' generation."""


def seeds() -> list[bytes]:
    """The real scans of the known forms, and one of them as PNG, TIFF and grayscale JPEG."""
    scans = [p.read_bytes() for p in sample_scans()]
    img = Image.open(io.BytesIO(scans[1])).convert("RGB")
    for fmt in ("PNG", "TIFF"):
        out = io.BytesIO()
        img.save(out, format=fmt)
        scans.append(out.getvalue())
    gray = cv2.imdecode(np.frombuffer(scans[1], np.uint8), cv2.IMREAD_GRAYSCALE)
    assert gray is not None  # a real scan
    scans.append(bytes(cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, 60])[1]))
    return scans


@st.composite
def mutated(draw: st.DrawFn, pool: list[bytes]) -> tuple[str, bytes]:
    data = draw(st.sampled_from(pool))
    kind = draw(
        st.sampled_from(
            ["as is", "truncate", "truncate+eoi", "flip", "insert", "cut", "append", "splice", "header", "random"]
        )
    )
    n = len(data)
    pos = draw(st.integers(0, max(0, n - 1)))
    if kind == "truncate":
        data = data[:pos]
    elif kind == "truncate+eoi":
        data = data[:pos] + b"\xff\xd9"
    elif kind == "flip":
        b = bytearray(data)
        for p in draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=16)):
            b[p] ^= draw(st.integers(1, 255))
        data = bytes(b)
    elif kind == "insert":
        data = data[:pos] + draw(st.binary(min_size=1, max_size=512)) + data[pos:]
    elif kind == "cut":
        data = data[:pos] + data[pos + draw(st.integers(1, 65536)) :]
    elif kind == "append":
        data = data + draw(st.binary(min_size=1, max_size=8192))
    elif kind == "splice":
        other = draw(st.sampled_from(pool))
        data = data[:pos] + other[draw(st.integers(0, len(other) - 1)) :]
    elif kind == "header":
        end = min(n, 64 + pos % 512)
        b = bytearray(data)
        b[4:end] = draw(st.binary(min_size=end - 4, max_size=end - 4))
        data = bytes(b)
    elif kind == "random":
        magic = draw(st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b""]))
        data = magic + draw(st.binary(max_size=4096))
    return kind, data


def run(seconds: float, seed: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from pipeline.config import ReaderConfig
    from pipeline.reader import ActaReader
    from service.app import create_app
    from service.db import session_factory
    from service.models import Role
    from service.security import create_key
    from service.settings import Settings

    pool = seeds()
    reader = ActaReader.from_config(ReaderConfig(prefer_gpu=False))
    outcomes: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    problems: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="actas-fuzz-") as tmp:
        app_settings = Settings(
            _env_file=None, database_url=f"sqlite:///{tmp}/actas.db", model_path=reader.config.model
        )
        with TestClient(create_app(app_settings, reader=reader), raise_server_exceptions=False) as client:
            with session_factory(client.app.state.engine)() as session:  # type: ignore[attr-defined]
                key = create_key(session, "fuzz", Role.operator)
                session.commit()

            @settings(
                max_examples=100_000,
                deadline=None,
                database=None,
                derandomize=False,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(mutated(pool))
            def upload(case: tuple[str, bytes]) -> None:
                if time.monotonic() - started > seconds:
                    raise TimeUp
                kind, data = case
                r = client.post(
                    "/actas", files={"file": ("scan", data, "application/octet-stream")}, headers={"X-API-Key": key}
                )
                code = ""
                if r.status_code >= 300:
                    try:
                        body = r.json()
                        code = body["code"]
                        assert isinstance(body["detail"], str)
                    except Exception:
                        problems.append(f"{kind}: {r.status_code} without the JSON error body")
                if r.status_code not in DOCUMENTED:
                    problems.append(f"{kind}: {r.status_code} {code} {r.text[:200]}")
                outcomes[f"{r.status_code} {code}".strip()] += 1
                by_kind[kind] += 1

            upload._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
            with contextlib.suppress(TimeUp):
                upload()
    elapsed = time.monotonic() - started
    return {
        "seconds": round(elapsed, 1),
        "inputs": sum(outcomes.values()),
        "seeds": len(pool),
        "outcomes": dict(sorted(outcomes.items())),
        "mutations": dict(sorted(by_kind.items())),
        "problems": problems,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=150, help="stop generating inputs after this many seconds")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--json", type=Path, help="write the figures here too")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")  # Pillow on damaged EXIF, hypothesis on the size of a failing input's repr
    report = run(args.seconds, args.seed)
    print(f"fuzz: {report['inputs']} inputs from {report['seeds']} real seeds in {report['seconds']} s")
    for status, n in report["outcomes"].items():
        print(f"  {status}: {n}")
    print("mutations: " + ", ".join(f"{k} x{n}" for k, n in report["mutations"].items()))
    for problem in report["problems"]:
        print(f"PROBLEM {problem}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
