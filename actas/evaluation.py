"""Score readings against a `truth.json` (format: ../shared/README.md): per field, per acta, flags."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from pipeline.schema import ActaReading


class TruthActa(BaseModel):
    mesa_code: str | None = None
    counts: dict[str, dict[str, int | None]]


class Truth(BaseModel):
    form: str = ""
    source: str = ""
    # The zeros come from a results table that cannot tell a written 0 from boxes left blank (2019
    # jurors often leave a zero count blank): a blank reading (null) of an official 0 is right.
    zero_may_be_blank: bool = False
    actas: dict[str, TruthActa]


def load_truth(directory: Path) -> Truth:
    path = directory / "truth.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no truth.json in {directory}")
    return Truth.model_validate(json.loads(path.read_text(encoding="utf-8")))


def readings_by_name(results: Path) -> dict[str, ActaReading]:
    """The readings of an `actas ingest` results.jsonl, keyed as truth.json keys actas: the file's
    name (`name#page=N` for a page of a PDF)."""
    out: dict[str, ActaReading] = {}
    for n, line in enumerate(results.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            reading = ActaReading.model_validate(doc["reading"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"line {n} is not an ingest result: {exc}") from exc
        name = Path(doc["source"]).name
        out[name if doc.get("page") is None else f"{name}#page={doc['page']}"] = reading
    return out


@dataclass(frozen=True)
class FieldDiff:
    file: str
    field: str
    expected: int | None
    read: int | None
    text: str
    confidence: float
    flagged: bool


@dataclass
class Tally:
    """Counts over a set of field readings. `correct_before` scores the reading before the form's rules
    corrected it (`original_value`), so the gain of constrained decoding is measured on the same run."""

    n: int = 0
    correct: int = 0
    correct_before: int = 0
    flagged: int = 0
    unflagged_errors: int = 0

    def add(self, ok: bool, ok_before: bool, flagged: bool) -> None:
        self.n += 1
        self.correct += ok
        self.correct_before += ok_before
        self.flagged += flagged
        self.unflagged_errors += not ok and not flagged

    def rate(self, count: int) -> float:
        return count / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "accuracy": round(self.rate(self.correct), 6),
            "accuracy_before_rules": round(self.rate(self.correct_before), 6),
            "flag_rate": round(self.rate(self.flagged), 6),
            "unflagged_error_rate": round(self.rate(self.unflagged_errors), 6),
            "unflagged_errors": self.unflagged_errors,
        }


@dataclass
class EvalReport:
    """Field- and acta-level scores. An acta counts as an unflagged error when any of its fields is wrong
    and not flagged: reviewers look at flagged fields, so a flag elsewhere on the acta does not save it."""

    zero_may_be_blank: bool = False  # from the truth file: null where the truth says 0 counts as right
    totals: Tally = field(default_factory=Tally)
    per_field: dict[str, Tally] = field(default_factory=dict)
    actas: int = 0
    actas_exact: int = 0
    actas_flagged: int = 0
    actas_unflagged_wrong: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    diffs: list[FieldDiff] = field(default_factory=list)

    @property
    def fields(self) -> int:
        return self.totals.n

    @property
    def correct(self) -> int:
        return self.totals.correct

    @property
    def flagged(self) -> int:
        return self.totals.flagged

    @property
    def unflagged_errors(self) -> int:
        return self.totals.unflagged_errors

    def add(self, name: str, truth: TruthActa, reading: ActaReading) -> None:
        by_key = {f"{f.section}.{f.key}": f for f in reading.fields}
        wrong = silent = 0
        self.actas += 1
        for section, kv in truth.counts.items():
            for key, expected in kv.items():
                ref = f"{section}.{key}"
                tally = self.per_field.setdefault(ref, Tally())
                f = by_key.get(ref)
                if f is None:  # the truth names a field the form does not have: wrong, and nobody is told
                    for t in (tally, self.totals):
                        t.add(ok=False, ok_before=False, flagged=False)
                    self.diffs.append(FieldDiff(name, ref, expected, None, "(no such field)", 0.0, False))
                    wrong += 1
                    silent += 1
                    continue
                before = f.original_value if f.auto_corrected else f.value
                ok = self._same(f.value, expected)
                for t in (tally, self.totals):
                    t.add(ok=ok, ok_before=self._same(before, expected), flagged=f.needs_review)
                if not ok:
                    wrong += 1
                    silent += not f.needs_review
                    self.diffs.append(FieldDiff(name, ref, expected, f.value, f.text, f.confidence, f.needs_review))
        self.actas_exact += wrong == 0
        self.actas_flagged += reading.needs_review
        self.actas_unflagged_wrong += silent > 0

    def _same(self, read: int | None, expected: int | None) -> bool:
        return read == expected or (self.zero_may_be_blank and expected == 0 and read is None)

    def fail(self, name: str, reason: str) -> None:
        self.failed.append((name, reason))

    def table(self) -> str:
        if not self.diffs:
            return "every field read as expected"
        rows = [f"{'file':28s} {'field':36s} {'expected':>8s} {'read':>6s} {'text':>6s} {'conf':>6s}  flagged"]
        for d in self.diffs:
            rows.append(
                f"{d.file:28s} {d.field:36s} {_s(d.expected):>8s} {_s(d.read):>6s} {d.text:>6s} "
                f"{d.confidence:6.3f}  {'yes' if d.flagged else 'NO'}"
            )
        return "\n".join(rows)

    def field_table(self) -> str:
        """Per field: accuracy before and after the rules, flag rate, unflagged error rate."""
        rows = [f"{'field':36s} {'n':>6s} {'before':>8s} {'after':>8s} {'flagged':>8s} {'unflagged err':>14s}"]
        for ref, t in [*sorted(self.per_field.items()), ("all fields", self.totals)]:
            rows.append(
                f"{ref:36s} {t.n:6d} {t.rate(t.correct_before):8.2%} {t.rate(t.correct):8.2%} "
                f"{t.rate(t.flagged):8.2%} {t.rate(t.unflagged_errors):14.3%}"
            )
        return "\n".join(rows)

    def failures(self) -> str:
        """Every scan not read (not identified, not registered, unreadable), with its reason."""
        return "\n".join(f"not read: {name}: {reason}" for name, reason in self.failed)

    def summary(self) -> str:
        t = self.totals
        return (
            f"field accuracy {t.rate(t.correct):.2%} ({t.correct}/{t.n}), actas exact {self.actas_exact}/{self.actas}, "
            f"unflagged errors {t.unflagged_errors} ({t.rate(t.unflagged_errors):.2%} of fields, "
            f"{self.actas_unflagged_wrong}/{self.actas} actas), "
            f"fields flagged {t.rate(t.flagged):.2%}, actas flagged {self.actas_flagged}/{self.actas}, "
            f"field accuracy before the form's rules {t.rate(t.correct_before):.2%}, failed files {len(self.failed)}"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "fields": self.totals.as_dict(),
            "per_field": {k: v.as_dict() for k, v in sorted(self.per_field.items())},
            "actas": {
                "n": self.actas,
                "exact": self.actas_exact,
                "flagged": self.actas_flagged,
                "with_unflagged_error": self.actas_unflagged_wrong,
                "failed": len(self.failed),
            },
            "failed": [{"file": f, "reason": r} for f, r in self.failed],
        }


def _s(v: int | None) -> str:
    return "null" if v is None else str(v)
