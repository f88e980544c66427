"""Compare two sets of readings of the same scans field by field: what a code change changed.

    python -m bench.compare_readings BEFORE.jsonl AFTER.jsonl [--show 20]

Each file is `actas read` output (one reading per line) or `actas ingest`'s results.jsonl (a `reading`
per line, with its `source` and `page`); readings are matched by acta id (the scan's sha256) and page.
Per field it compares the value, the text read, the flag, the reasons and the confidence (to 4 places),
and per acta the mesa code, the form and the checks. Prints the counts and the first differences; exit
status 1 when anything differs, 0 when the readings are the same.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

FIELD_KEYS = ("value", "text", "needs_review", "reasons", "confidence")
ACTA_KEYS = ("template", "variant", "mesa_code", "needs_review")
CHECK_KEYS = ("rule", "ok", "left", "right", "fields")  # keys added since (op, suspects) are not differences


def load(path: Path) -> dict[tuple[str, int | None], dict[str, Any]]:
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        doc = json.loads(line)
        reading = doc.get("reading", doc)
        if reading is None:
            continue
        if "acta_id" not in reading:
            raise ValueError(f"{path}:{n}: not a reading")
        out[(reading["acta_id"], doc.get("page"))] = reading
    return out


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str, Any, Any]]:
    """(where, what, before, after) for every difference between two readings of one scan."""
    out = [("acta", k, before.get(k), after.get(k)) for k in ACTA_KEYS if before.get(k) != after.get(k)]
    b_checks, a_checks = ([{k: c.get(k) for k in CHECK_KEYS} for c in r["checks"]] for r in (before, after))
    out += [("acta", "checks", b, a) for b, a in zip(b_checks, a_checks, strict=False) if b != a]
    if len(b_checks) != len(a_checks):
        out.append(("acta", "checks", len(b_checks), len(a_checks)))
    b_fields = {f"{f['section']}.{f['key']}": f for f in before["fields"]}
    for f in after["fields"]:
        name = f"{f['section']}.{f['key']}"
        old = b_fields.get(name)
        if old is None:
            out.append((name, "field", None, "new"))
            continue
        for k in FIELD_KEYS:
            a, b = old.get(k), f.get(k)
            if k == "confidence" and a is not None and b is not None:
                a, b = round(a, 4), round(b, 4)
            if a != b:
                out.append((name, k, a, b))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--show", type=int, default=20, help="differences to print (default 20)")
    args = p.parse_args(argv)
    try:
        before, after = load(args.before), load(args.after)
    except (OSError, ValueError) as exc:
        print(f"compare_readings: {exc}", file=sys.stderr)
        return 2
    common = sorted(set(before) & set(after))
    kinds: Counter[str] = Counter()
    actas_changed = 0
    fields = 0
    shown = 0
    for key in common:
        diff = differences(before[key], after[key])
        fields += len(after[key]["fields"])
        actas_changed += bool(diff)
        for where, what, old, new in diff:
            kinds[what if where != "acta" else f"acta {what}"] += 1
            if shown < args.show:
                print(f"{key[0][:12]} p{key[1]} {where} {what}: {old!r} -> {new!r}")
                shown += 1
    only = len(set(before) ^ set(after))
    print(f"{len(common)} actas in both ({only} in one only), {fields:,} fields; {actas_changed} actas differ")
    for what, n in sorted(kinds.items()):
        print(f"  {what}: {n}")
    return 1 if actas_changed or only else 0


if __name__ == "__main__":
    raise SystemExit(main())
