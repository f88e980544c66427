"""Send the work to a running service (POST /actas) with bounded concurrency; retry what may pass later.

Standard library only (urllib in daemon threads, so Ctrl-C never waits on a slow answer). Connection
errors, timeouts and 502/503/504 are retried with exponential backoff; any other error answer fails the
file with the service's message. 401/403 stop the run: no other file could pass with that key.
"""

from __future__ import annotations

import http.client
import json
import queue
import random
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

from actas.ingest.errors import StopIngest, UsageError
from actas.ingest.items import Outcome, WorkItem
from actas.ingest.options import API_KEY_ENV
from pipeline.image_io import FORMATS, sniff_format

RETRY_STATUSES = frozenset({502, 503, 504})
MAX_BACKOFF_S = 60.0


@dataclass(frozen=True)
class RemoteOptions:
    url: str
    api_key: str
    concurrency: int = 4
    retries: int = 5  # after the first try
    backoff_s: float = 1.0  # wait before the first retry; doubles each time
    timeout_s: float = 300.0  # for one answer (the service may queue the scan behind others)
    template: str | None = None


class _Retryable(Exception):
    """A failure that may pass later (no connection, timeout, 502/503/504)."""


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def reason(self) -> str:
        doc = self.json()
        if isinstance(doc, dict) and "detail" in doc:
            return f"HTTP {self.status} {doc.get('code', '')}: {doc['detail']}".replace(" :", ":")
        return f"HTTP {self.status}: {self.body[:200].decode('utf-8', 'replace').strip()}"


class Client:
    def __init__(self, opts: RemoteOptions, stop: threading.Event | None = None) -> None:
        self.opts = opts
        self.base = opts.url.rstrip("/")
        self.stop = stop or threading.Event()

    def _send(self, req: urllib.request.Request) -> _Answer:
        """One request; raises _Retryable for what may pass on a later try."""
        try:
            with urllib.request.urlopen(req, timeout=self.opts.timeout_s) as resp:
                answer = _Answer(resp.status, resp.read())
        except urllib.error.HTTPError as exc:
            answer = _Answer(exc.code, exc.read())
        except (OSError, http.client.HTTPException) as exc:  # URLError, refused, reset, timeout
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise _Retryable(f"cannot reach the service at {self.base} ({reason or type(exc).__name__})") from exc
        if answer.status in RETRY_STATUSES:
            raise _Retryable(answer.reason())
        return answer

    def call(self, make: Any) -> _Answer:
        """`make()` -> a fresh Request; sent with retries and backoff. Raises _Retryable when out of tries."""
        for attempt in range(self.opts.retries + 1):
            try:
                return self._send(make())
            except _Retryable as exc:
                if attempt == self.opts.retries:
                    tries = self.opts.retries + 1
                    raise _Retryable(f"{exc} (gave up after {tries} tr{'ies' if tries > 1 else 'y'})") from exc
                delay = min(MAX_BACKOFF_S, self.opts.backoff_s * 2**attempt) * random.uniform(0.8, 1.2)
                if self.stop.wait(delay):
                    raise
        raise AssertionError("unreachable")

    def check(self) -> None:
        """Before any upload: the service answers and takes the key. Raises UsageError otherwise."""
        if not self.opts.api_key:
            raise UsageError(f"--url needs an operator API key: --api-key KEY or ${API_KEY_ENV}")
        try:
            answer = self.call(lambda: self._get("/actas?limit=1"))
        except _Retryable as exc:
            raise UsageError(str(exc)) from exc
        if answer.status != 200:
            raise UsageError(f"{self.base}/actas: {answer.reason()}")

    def _get(self, path: str) -> urllib.request.Request:
        return urllib.request.Request(self.base + path, headers={"X-API-Key": self.opts.api_key})

    def _upload_request(self, name: str, data: bytes) -> urllib.request.Request:
        boundary = uuid.uuid4().hex
        media = FORMATS.get(sniff_format(data) or "", "application/octet-stream")
        quoted = urllib.parse.quote(name)
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
            f"Content-Type: {media}\r\n\r\n".encode(),
            data,
            b"\r\n",
        ]
        if self.opts.template:
            field = f'Content-Disposition: form-data; name="template"\r\n\r\n{self.opts.template}'
            parts.append(f"--{boundary}\r\n{field}\r\n".encode())
        parts.append(f"--{boundary}--\r\n".encode())
        headers = {"X-API-Key": self.opts.api_key, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        return urllib.request.Request(self.base + "/actas", data=b"".join(parts), headers=headers, method="POST")

    def upload(self, item: WorkItem) -> Outcome:
        try:
            data = item.scan_bytes()
        except (OSError, ValueError) as exc:  # unreadable file, broken PDF page, file changed
            return Outcome.failed(item, str(exc))
        try:
            answer = self.call(lambda: self._upload_request(item.upload_name, data))
        except _Retryable as exc:
            return Outcome.failed(item, str(exc), unreachable=True)
        if answer.status in (401, 403):
            raise StopIngest(f"the service refused the API key: {answer.reason()}")
        doc = answer.json()
        if answer.status not in (200, 201) or not isinstance(doc, dict):
            return Outcome.failed(item, answer.reason())
        record = doc.pop("record", None)
        return Outcome(item, reading=doc, record=record if isinstance(record, dict) else None)


def run_remote(items: Sequence[WorkItem], opts: RemoteOptions) -> Generator[Outcome, None, None]:
    """Outcomes in completion order, `concurrency` uploads at a time. Raises StopIngest when going on is
    pointless: a refused key, or this many items in a row failing to reach the service."""
    stop = threading.Event()
    client = Client(opts, stop)
    todo: queue.Queue[WorkItem | None] = queue.Queue()
    for item in items:
        todo.put(item)
    done: queue.Queue[Outcome | StopIngest] = queue.Queue()

    def work() -> None:
        while not stop.is_set() and (item := todo.get()) is not None:
            try:
                done.put(client.upload(item))
            except StopIngest as exc:
                done.put(exc)
            except Exception as exc:  # a bug must not hang the parent waiting for this item
                done.put(Outcome.failed(item, f"internal error: {type(exc).__name__}: {exc}"))

    workers = max(1, min(opts.concurrency, len(items)))
    for _ in range(workers):
        todo.put(None)
    for _ in range(workers):
        threading.Thread(target=work, daemon=True).start()
    unreachable_in_a_row, limit = 0, max(5, 2 * workers)
    try:
        for _ in range(len(items)):
            got = _get(done)
            if isinstance(got, StopIngest):
                raise got
            unreachable_in_a_row = unreachable_in_a_row + 1 if got.unreachable else 0
            yield got
            if unreachable_in_a_row >= limit:
                raise StopIngest(f"{limit} files in a row got no answer from the service: stopping")
    finally:
        stop.set()


def _get(q: queue.Queue[Outcome | StopIngest]) -> Outcome | StopIngest:
    while True:  # short waits keep Ctrl-C responsive
        try:
            return q.get(timeout=0.5)
        except queue.Empty:
            continue
