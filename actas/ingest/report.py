"""results.csv and summary.json, derived from every line of results.jsonl (so they always agree with it)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

BASE_COLUMNS = ["source", "page", "acta_id", "template", "mesa_code", "needs_review", "note_written", "flagged_fields"]


@dataclass
class RunCounts:
    """What this run did, for the summary."""

    read: int = 0  # actas read and added to results.jsonl
    flagged: int = 0  # of those, how many need review
    failed: int = 0  # files or pages that could not be read (failed.jsonl)
    skipped: int = 0  # actas already in results.jsonl
    duplicates: int = 0  # files with the same bytes as another file of this run
    ignored: int = 0  # files in folders not named like scans
    not_attempted: int = 0  # left when the run was interrupted or stopped


@dataclass
class Report:
    csv: str
    summary: dict[str, Any]


def build(lines: Iterable[dict[str, Any]], run: RunCounts, stopped: str | None = None) -> Report:
    rows: list[dict[str, Any]] = []
    columns: dict[str, list[str]] = {}  # template -> its section.KEY columns, in form order
    totals: dict[str, dict[str, int]] = defaultdict(dict)
    per_template: dict[str, int] = defaultdict(int)
    mesas: dict[str, list[str]] = defaultdict(list)
    flagged = noted = 0
    for line in lines:
        reading = line["reading"]
        template = str(reading.get("template"))
        values = {f"{s}.{k}": v for s, fields in reading.get("counts", {}).items() for k, v in fields.items()}
        columns.setdefault(template, list(values))
        tally = totals[template]
        for name, value in values.items():
            tally[name] = tally.get(name, 0) + (value or 0)
        per_template[template] += 1
        flagged += bool(reading.get("needs_review"))
        note = (reading.get("notes") or {}).get("written")  # None: the form has no notes box, or unchecked
        noted += bool(note)
        source = line["source"] if line.get("page") is None else f"{line['source']}#page={line['page']}"
        if reading.get("mesa_code"):
            mesas[reading["mesa_code"]].append(source)
        rows.append(
            {
                "source": line["source"],
                "page": line.get("page"),
                "acta_id": reading.get("acta_id"),
                "template": template,
                "mesa_code": reading.get("mesa_code"),
                "needs_review": "true" if reading.get("needs_review") else "false",
                "note_written": "" if note is None else ("true" if note else "false"),
                "flagged_fields": " ".join(
                    f"{f['section']}.{f['key']}" for f in reading.get("fields", []) if f.get("needs_review")
                ),
                **values,
            }
        )
    header = list(BASE_COLUMNS)
    for template in sorted(columns):
        header += [c for c in columns[template] if c not in header]
    out = io.StringIO()
    writer = csv.DictWriter(out, header, restval="", extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    rows.sort(key=lambda r: (r["source"], r["page"] or 0))  # results.jsonl is in the order readings finished
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    summary = {
        "results": {
            "actas": len(rows),
            "flagged": flagged,
            "with_notes": noted,  # a note written under OBSERVACIONES (each of them flagged)
            "by_template": dict(sorted(per_template.items())),
        },
        "this_run": {**asdict(run), "stopped": stopped},
        "totals": {t: {c: totals[t][c] for c in columns[t]} for t in sorted(columns)},
        "mesas_read_more_than_once": {m: s for m, s in sorted(mesas.items()) if len(s) > 1},
    }
    return Report(out.getvalue(), summary)


def text(summary: dict[str, Any], failed_file: str) -> str:
    """The summary as printed at the end of a run."""
    res, run = summary["results"], summary["this_run"]
    lines = [
        f"results: {res['actas']} actas ({res['flagged']} flagged for review, {res['with_notes']} of them for a "
        f"written note); this run: {run['read']} read "
        f"({run['flagged']} flagged), {run['failed']} failed, {run['skipped']} skipped (already done), "
        f"{run['duplicates']} duplicate files, {run['ignored']} ignored (not named like scans)"
    ]
    if run["not_attempted"]:
        lines.append(f"{run['not_attempted']} not attempted: run the same command again to go on")
    if run["failed"]:
        lines.append(f"failures and their reasons: {failed_file}")
    for template, tally in summary["totals"].items():
        lines.append(f"totals over {res['by_template'][template]} {template} actas (machine readings, not reviewed):")
        width = max(len(c) for c in tally) if tally else 0
        lines += [f"  {c:{width}s} {v:>10,d}" for c, v in tally.items()]
    if summary["mesas_read_more_than_once"]:
        lines.append(
            f"{len(summary['mesas_read_more_than_once'])} mesas read from more than one scan "
            "(their totals count each scan): see summary.json"
        )
    return "\n".join(lines)
