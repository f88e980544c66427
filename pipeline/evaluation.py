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
    actas: dict[str, TruthActa]


def load_truth(directory: Path) -> Truth:
    path = directory / "truth.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no truth.json in {directory}")
    return Truth.model_validate(json.loads(path.read_text(encoding="utf-8")))


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
class EvalReport:
    fields: int = 0
    correct: int = 0
    flagged: int = 0
    unflagged_errors: int = 0
    actas: int = 0
    actas_exact: int = 0
    actas_flagged: int = 0
    actas_unflagged_wrong: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    diffs: list[FieldDiff] = field(default_factory=list)

    def add(self, name: str, truth: TruthActa, reading: ActaReading) -> None:
        by_key = {f"{f.section}.{f.key}": f for f in reading.fields}
        wrong = 0
        self.actas += 1
        for section, kv in truth.counts.items():
            for key, expected in kv.items():
                f = by_key.get(f"{section}.{key}")
                self.fields += 1
                if f is None:
                    self.diffs.append(FieldDiff(name, f"{section}.{key}", expected, None, "(no such field)", 0.0, True))
                    wrong += 1
                    continue
                self.flagged += f.needs_review
                if f.value == expected:
                    self.correct += 1
                    continue
                wrong += 1
                self.unflagged_errors += not f.needs_review
                self.diffs.append(
                    FieldDiff(name, f"{section}.{key}", expected, f.value, f.text, f.confidence, f.needs_review)
                )
        self.actas_exact += wrong == 0
        self.actas_flagged += reading.needs_review
        self.actas_unflagged_wrong += wrong > 0 and not reading.needs_review

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

    def summary(self) -> str:
        acc = self.correct / self.fields if self.fields else 0.0
        flag_rate = self.flagged / self.fields if self.fields else 0.0
        unflagged = self.unflagged_errors / self.fields if self.fields else 0.0
        return (
            f"field accuracy {acc:.2%} ({self.correct}/{self.fields}), actas exact {self.actas_exact}/{self.actas}, "
            f"unflagged errors {self.unflagged_errors} ({unflagged:.2%} of fields), "
            f"fields flagged {flag_rate:.2%}, actas flagged {self.actas_flagged}/{self.actas}, "
            f"failed files {len(self.failed)}"
        )


def _s(v: int | None) -> str:
    return "null" if v is None else str(v)
