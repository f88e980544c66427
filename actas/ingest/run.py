"""`actas ingest`: list the work, skip what is done, read the rest (here or on a service), record each acta.

Exit status: 0 when everything listed was read (or already was), 1 when some file failed or the run was
stopped early, 2 for a usage error, 130 after Ctrl-C. Every stop keeps what was read: run again to go on.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Generator, Sequence
from contextlib import closing
from typing import Any

from tqdm import tqdm

from actas.ingest import report
from actas.ingest.errors import StopIngest, UsageError
from actas.ingest.items import Outcome, WorkItem
from actas.ingest.options import IngestOptions
from actas.ingest.sources import Plan, expand, plan
from actas.ingest.store import CSV, SUMMARY, Store

PROG = "actas ingest"


def _say(message: str) -> None:
    tqdm.write(f"{PROG}: {message}", file=sys.stderr)


Outcomes = Generator[Outcome, None, None]


def _runner(opts: IngestOptions, items: Sequence[WorkItem]) -> Outcomes:
    """Checks the set-up (UsageError) before anything is read, then returns the outcomes' iterator."""
    if opts.url and opts.engine != "local":
        raise UsageError(f"--url sends the scans to a service; --engine {opts.engine} reads them here: not both")
    if opts.url:
        from actas.ingest.remote import Client, RemoteOptions, run_remote

        remote = RemoteOptions(
            opts.url, opts.api_key, opts.concurrency, opts.retries, opts.backoff_s, template=opts.template
        )
        Client(remote).check()
        return run_remote(items, remote)

    from actas.config import reader_config
    from actas.ingest.local import LocalOptions, run_local
    from pipeline.config import cpu_count
    from pipeline.templates import load_templates

    try:
        config = reader_config(opts.model, opts.templates_dir, cpu=opts.cpu)
    except ValueError as exc:
        raise UsageError(f"$ACTAS_VIEWS: {exc}") from exc
    if not config.model.is_file():
        raise UsageError(f"model {config.model} not found (--model or $ACTAS_MODEL_PATH)")
    templates = load_templates(*config.templates_dirs)
    if opts.template and opts.template not in templates:
        raise UsageError(f"unknown template {opts.template!r}; known: {', '.join(sorted(templates))}")
    if opts.engine == "ray":
        try:
            import ray  # noqa: F401
        except ImportError as exc:
            raise UsageError("--engine ray needs Ray: pip install 'actas-ocr[ray]'") from exc
        from actas.ingest.ray_engine import RayOptions, run_ray

        return run_ray(items, RayOptions(opts.workers, config, opts.template, opts.address, num_cpus=cpu_count()))
    return run_local(items, LocalOptions(opts.workers or cpu_count(), config, opts.template))


def _result_line(o: Outcome) -> dict[str, Any]:
    line: dict[str, Any] = {"source": o.item.source, "page": o.item.page, "sha256": o.item.sha256}
    line["reading"] = o.reading
    if o.record is not None:
        line["record"] = o.record
    return line


def ingest(opts: IngestOptions) -> int:
    """SIGTERM (a service manager stopping the job) stops it like Ctrl-C: what was read is kept."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, _interrupt)
        # Ctrl-C too, even where SIGINT came in ignored (a shell's background job starts that way).
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _ingest(opts)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _ingest(opts: IngestOptions) -> int:
    progress = True if opts.progress is False else None  # tqdm's `disable`: None = shown only on a terminal
    with Store(opts.out) as store:
        if store.dropped_lines:
            _say(f"dropped an incomplete last line ({store.dropped_lines} bytes) from {store.results}")
        inputs = expand(opts.inputs, skip_dir=opts.out)
        for pattern in inputs.unmatched:
            _say(f"warning: {pattern}: no match")
        sources, ignored = inputs.sources, len(inputs.ignored) + len(inputs.ignored_uris)
        if not sources:
            raise UsageError("no input files matched" + (f" ({ignored} ignored)" if ignored else ""))
        done = store.done()
        with tqdm(total=len(sources), unit="file", desc="listing", leave=False, disable=progress) as bar:
            work = plan(sources, done, lambda: bar.update(1))
        run = report.RunCounts(skipped=work.skipped, duplicates=len(work.duplicates), ignored=ignored)
        outcomes = _runner(opts, work.items) if work.items else _nothing()
        store.start_run()
        _record_plan_failures(store, work, run)
        stopped: str | None = None
        status = 0
        try:
            _consume(store, outcomes, run, len(work.items), disable=progress)
        except KeyboardInterrupt:
            stopped, status = "interrupted", 130
        except StopIngest as exc:
            stopped, status = str(exc), 1
            _say(f"stopped: {exc}")
        finally:
            run.not_attempted = len(work.items) - run.read - (run.failed - len(work.failures))
            built = report.build(store.lines(), run, stopped)
            store.replace(CSV, built.csv)
            store.replace(SUMMARY, _json(built.summary))
        print(report.text(built.summary, str(store.failed)))
        if stopped == "interrupted":
            _say("interrupted: what was read is kept; run the same command again to go on")
        return status or (1 if run.failed else 0)


def _record_plan_failures(store: Store, work: Plan, run: report.RunCounts) -> None:
    for f in work.failures:
        store.add_failure(f.path, None, f.sha256, f.reason)
        run.failed += 1
        _say(f"{f.path}: {f.reason}")


def _nothing() -> Outcomes:
    yield from ()


def _consume(store: Store, outcomes: Outcomes, run: report.RunCounts, total: int, disable: bool | None) -> None:
    with closing(outcomes) as it, tqdm(total=total, unit="acta", desc="reading", disable=disable) as bar:
        for o in it:
            if o.reading is None:
                store.add_failure(o.item.source, o.item.page, o.item.sha256, o.error or "unknown error")
                run.failed += 1
                _say(f"{o.item.label}: {o.error}")
            else:
                store.add_result(_result_line(o))
                run.read += 1
                run.flagged += bool(o.reading.get("needs_review"))
            bar.update(1)
            bar.set_postfix(flagged=run.flagged, failed=run.failed, refresh=False)


def _json(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
