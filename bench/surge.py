"""The service under a surge (issue 17), on loopback: upload latency alone and while overlays are fetched,
and one new scan sent by 16 clients at once (how many readings, which answers).

    python -m bench.surge                         # this checkout
    python -m bench.surge --repo /tmp/before      # another tree of the code (e.g. `git archive d8eab00`)

Starts `actas serve` from REPO (PYTHONPATH) on a fresh SQLite file with ACTAS_CONCURRENCY=2, stores the
real 2025 scans but one, then: 5 uploads of new bytes of mesa_1000551 (a JPEG comment added) alone; 5 more
while 4 clients fetch the stored actas' overlays in a loop; the held-back scan (mesa_8002451) sent by 16
clients at once. Readings are counted from the server's request log (an upload that read logs its
`timings_ms`). Prints one JSON line. Needs `httpx2` (the `dev` extra).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.load import REPO, SAMPLES, _httpx2, free_port, with_comment

SURGE_SCAN = SAMPLES / "bo2025-runoff" / "mesa_8002451.jpg"
SAMPLE = SAMPLES / "bo2025-runoff" / "mesa_1000551.jpg"


def measure(repo: Path, overlay_clients: int = 4, clients: int = 16) -> dict[str, Any]:
    httpx2 = _httpx2()
    tmp = Path(tempfile.mkdtemp(prefix="actas-surge-"))
    env = {
        **os.environ,
        "PYTHONPATH": str(repo),
        "ACTAS_DATABASE_URL": f"sqlite:///{tmp / 'actas.db'}",
        "ACTAS_PREFER_GPU": "false",
        "ACTAS_CONCURRENCY": "2",
    }
    cli = [sys.executable, "-c", "import sys; from actas.cli import main; sys.exit(main())"]
    made = subprocess.run(
        [*cli, "keys", "create", "surge", "--role", "operator"], env=env, capture_output=True, text=True, check=True
    )
    headers = {"X-API-Key": made.stdout.strip()}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, stdout=log, stderr=log, cwd=tmp)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx2.get(f"{url}/ready", timeout=2).status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not become ready in 120 s")
                time.sleep(0.3)
            client = httpx2.Client(timeout=300)

            def post(data: bytes) -> Any:
                return client.post(f"{url}/actas", files={"file": ("scan.jpg", data, "image/jpeg")}, headers=headers)

            scans = sorted((SAMPLES / "bo2025-runoff").glob("*.jpg")) + sorted(
                (SAMPLES / "bo2025-general").glob("*.jpg")
            )
            ids = [post(p.read_bytes()).json()["acta_id"] for p in scans if p != SURGE_SCAN]
            sample = SAMPLE.read_bytes()

            def upload(tag: str) -> float:
                start = time.perf_counter()
                r = post(with_comment(sample, tag))
                assert r.status_code in (200, 201), r.text
                return time.perf_counter() - start

            alone = [upload(f"alone {i}") for i in range(5)]
            stop, fetched = threading.Event(), [0]

            def overlays() -> None:
                own = httpx2.Client(timeout=300)
                i = 0
                while not stop.is_set():
                    assert own.get(f"{url}/actas/{ids[i % len(ids)]}/overlay.png", headers=headers).status_code == 200
                    fetched[0] += 1
                    i += 1

            threads = [threading.Thread(target=overlays) for _ in range(overlay_clients)]
            for t in threads:
                t.start()
            time.sleep(2)
            busy = [upload(f"busy {i}") for i in range(5)]
            stop.set()
            for t in threads:
                t.join()
            surge = SURGE_SCAN.read_bytes()
            start = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                answers = list(pool.map(lambda _: post(surge), range(clients)))
            surge_s = time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait(30)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    surge_id = hashlib.sha256(surge).hexdigest()
    readings = sum(
        1 for e in lines if e.get("event") == "request" and e.get("acta_id") == surge_id and "timings_ms" in e
    )
    return {
        "repo": str(repo),
        "upload_alone_s": round(statistics.median(alone), 3),
        f"upload_with_{overlay_clients}_overlay_clients_s": round(statistics.median(busy), 3),
        "overlays_fetched": fetched[0],
        "surge_statuses": sorted(r.status_code for r in answers),
        "surge_bodies_equal": len({r.content for r in answers}) == 1,
        "surge_readings": readings,
        "surge_s": round(surge_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", type=Path, default=REPO, help="the tree whose service is measured (default: this one)")
    args = p.parse_args(argv)
    print(json.dumps(measure(args.repo.resolve())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
