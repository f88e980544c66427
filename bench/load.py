"""Load test: concurrent clients upload the real sample actas to a service on loopback.

    python -m bench.load                       # starts its own server (SQLite in a temp dir), 16 clients, 64 uploads
    python -m bench.load --requests 160 --clients 16
    python -m bench.load --url http://127.0.0.1:8000 --key actas_... --pid 1234   # a server already running

The samples are the real scans in ../shared/data/actas whose folder is named after a form the service
knows (bo2025-general, bo2025-runoff; others, e.g. bo2019-general, no form reads: every upload would be a 422).
By default every upload is new bytes (the sample with a JPEG comment naming the request added: the same
pixels, a new sha256), so each one goes through the whole reader; `--same-bytes` sends the samples as
they are, which after the first round measures the idempotent path (already stored). Prints throughput,
median and 95th-percentile latency, the error count (answers other than 200/201, and failed requests;
uploads not sent because of --time-limit are listed apart, not as errors) and the server's peak resident
memory; exits 1 on any error. Needs `httpx2` (the `dev` extra: `pip install -e '.[dev]'`). Traffic goes
to loopback only, and the run is bounded in count and time.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "data" / "actas"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def with_comment(jpeg: bytes, text: str) -> bytes:
    """Insert a COM segment after SOI: a valid JPEG with the same pixels and a different hash."""
    assert jpeg[:2] == b"\xff\xd8"
    body = text.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]


def _httpx2() -> ModuleType:
    """Imported when a run starts, so that `--help` works after the serving-only install."""
    try:
        import httpx2
    except ImportError as exc:
        raise SystemExit("bench.load needs httpx2: pip install -e '.[dev]'") from exc
    return httpx2


def sample_scans(root: Path = SAMPLES, forms: set[str] | None = None) -> list[Path]:
    """The real scans of the forms the service reads: folders named after a known template id."""
    if forms is None:
        from pipeline.templates import load_templates

        forms = set(load_templates())
    return sorted(p for p in root.glob("*/*.jpg") if p.parent.name in forms)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    """VmHWM (peak resident set) of the process and its children (uvicorn workers), in MiB."""
    total = 0
    for p in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    return [int(k) for k in kids]


def start_server(
    stack: ExitStack, workers: int, log_copy: Path | None, database_url: str | None
) -> tuple[str, str, int]:
    """`actas serve` in a subprocess on a free loopback port, by default on a fresh SQLite file; (url, key, pid)."""
    httpx2 = _httpx2()
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="actas-load-")))
    if log_copy:  # runs after the server has stopped (callbacks run last-in, first-out)
        stack.callback(lambda: log_copy.write_bytes((tmp / "server.log").read_bytes()))
    env = {
        **os.environ,
        "ACTAS_DATABASE_URL": database_url or f"sqlite:///{tmp / 'actas.db'}",
        "ACTAS_PREFER_GPU": "false",
    }
    bin_dir = Path(sys.executable).parent
    made = subprocess.run(
        [str(bin_dir / "actas"), "keys", "create", "load-test", "--role", "operator"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = made.stdout.strip()
    port = free_port()
    log = (tmp / "server.log").open("w")
    stack.callback(log.close)
    proc = subprocess.Popen(
        [str(bin_dir / "actas"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=log,
        cwd=tmp,
    )

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()

    stack.callback(stop)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited:\n{(tmp / 'server.log').read_text()[-2000:]}")
        try:
            if httpx2.get(f"{url}/ready", timeout=2).status_code == 200:
                return url, key, proc.pid
        except httpx2.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the server did not become ready in 120 s")
        time.sleep(0.3)


NOT_SENT = "not sent (time limit)"


def count_errors(statuses: Counter[str]) -> int:
    """Answers other than 200/201 and failed requests; uploads never sent are not errors."""
    return sum(n for s, n in statuses.items() if s not in ("200", "201", NOT_SENT))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="a running service on loopback (default: start one)")
    p.add_argument("--key", help="an operator key for --url")
    p.add_argument("--pid", type=int, help="the --url server's process id, for its peak memory")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=64, help="uploads in all (bounded)")
    p.add_argument("--workers", type=int, default=1, help="server processes when starting one")
    p.add_argument("--same-bytes", action="store_true", help="send the samples unchanged (idempotent path)")
    p.add_argument(
        "--database-url",
        help="database for the started server (default: a fresh SQLite file); "
        "use an empty one: a key named load-test is created in it",
    )
    p.add_argument("--server-log", type=Path, help="keep the started server's log (JSON lines) here")
    p.add_argument("--time-limit", type=float, default=900, help="stop sending new uploads after this many s")
    args = p.parse_args(argv)
    httpx2: Any = _httpx2()

    samples = sample_scans()
    if not samples:
        raise SystemExit(f"no sample actas of a known form under {SAMPLES}")
    data = [s.read_bytes() for s in samples]

    with ExitStack() as stack:
        if args.url:
            if urlsplit(args.url).hostname not in LOOPBACK:
                raise SystemExit("--url must be a loopback address")
            if not args.key:
                raise SystemExit("--key is needed with --url")
            url, key, pid = args.url.rstrip("/"), args.key, args.pid
        else:
            url, key, pid = start_server(stack, args.workers, args.server_log, args.database_url)

        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        lock = threading.Lock()
        started = time.perf_counter()
        client = stack.enter_context(
            httpx2.Client(
                base_url=url,
                headers={"X-API-Key": key},
                timeout=600,
                limits=httpx2.Limits(max_connections=args.clients),
            )
        )

        def upload(i: int) -> None:
            if time.perf_counter() - started > args.time_limit:
                with lock:
                    statuses[NOT_SENT] += 1
                return
            body = data[i % len(data)]
            if not args.same_bytes:
                body = with_comment(body, f"load test upload {i} at {started}")
            t0 = time.perf_counter()
            try:
                r = client.post("/actas", files={"file": (samples[i % len(data)].name, body, "image/jpeg")})
                outcome = str(r.status_code)
            except httpx2.HTTPError as exc:
                outcome = type(exc).__name__
            dt = time.perf_counter() - t0
            with lock:
                statuses[outcome] += 1
                if outcome in ("200", "201"):
                    latencies.append(dt)

        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(upload, range(args.requests)))
        wall = time.perf_counter() - started
        rss = peak_rss_mib(pid) if pid else None

    ok = len(latencies)
    errors = count_errors(statuses)
    q = statistics.quantiles(latencies, n=20, method="inclusive") if ok >= 2 else [float("nan")] * 19
    print(
        f"load: {args.requests} uploads of {len(samples)} real samples "
        f"({'same bytes' if args.same_bytes else 'new bytes each'}), {args.clients} concurrent clients, "
        f"{wall:.1f} s"
    )
    print(f"throughput: {ok / wall:.2f} uploads/s")
    print(
        f"latency: median {statistics.median(latencies) if ok else float('nan'):.2f} s, p95 {q[18]:.2f} s, "
        f"max {max(latencies, default=float('nan')):.2f} s"
    )
    print(f"errors: {errors}")
    if statuses[NOT_SENT]:
        print(f"not sent (time limit): {statuses[NOT_SENT]}")
    print(f"statuses: {', '.join(f'{s} x{n}' for s, n in sorted(statuses.items()))}")
    print(f"server peak RSS: {rss:.1f} MiB" if rss is not None else "server peak RSS: unknown (give --pid)")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
