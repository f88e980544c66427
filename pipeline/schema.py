"""The reading of one acta: the JSON document `actas read` prints and the service returns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.reasons import ReasonCode

PixelBox = tuple[int, int, int, int]  # x, y, w, h in the uploaded image's pixels


class DigitReading(BaseModel):
    model_config = ConfigDict(frozen=True)
    char: str | None = Field(description="'0'-'9', or null for a blank box")
    confidence: float = Field(ge=0, le=1, description="calibrated probability of this reading")
    box: PixelBox = Field(description="the box in the uploaded image (axis-aligned bounds)")
    ink: bool = Field(description="whether the box holds pen marks beyond specks and border fragments")
    alternatives: list[tuple[str, float]] = Field(default_factory=list, description="next most probable readings")


class FieldReading(BaseModel):
    model_config = ConfigDict(frozen=True)
    section: str
    key: str
    label: str
    value: int | None = Field(description="the count, or null when every box is blank")
    text: str = Field(description="what the boxes read, '_' for a blank box")
    confidence: float = Field(ge=0, le=1, description="probability that the whole value is right")
    needs_review: bool
    reasons: list[str] = Field(default_factory=list, description="why it needs review, if it does")
    reason_codes: list[ReasonCode] = Field(
        default_factory=list, description="a code per reason, same order: what tools key on"
    )
    auto_corrected: bool = Field(default=False, description="changed by the form's rules from what the boxes read best")
    original_value: int | None = Field(default=None, description="the value before correction, when auto_corrected")
    original_text: str | None = Field(default=None, description="the text before correction, when auto_corrected")
    digits: list[DigitReading]


class RuleCheck(BaseModel):
    model_config = ConfigDict(frozen=True)
    rule: str
    op: Literal["==", "<="] = Field(default="==", description="a printed sum (==) or a plausibility bound (<=)")
    ok: bool
    left: int = Field(description="the left side's sum (for a bound on each field: the largest of them)")
    right: int
    fields: list[str] = Field(description="the fields the rule ties together, as section.KEY")
    suspects: list[str] = Field(default_factory=list, description="the fields a broken rule puts in doubt")
    over: list[str] = Field(
        default_factory=list,
        description="a broken bound's left-side fields, the ones above it (what a repeated misread inflates)",
    )


class NotesReading(BaseModel):
    model_config = ConfigDict(frozen=True)
    written: bool = Field(
        description="whether the jurors wrote in the notes box (OBSERVACIONES); if so, every field is flagged"
    )
    ink_share: float = Field(
        ge=0, le=1, description="share of the box's area in writing (strike-outs, rules, specks left out)"
    )
    box: PixelBox = Field(description="the notes box in the uploaded image (axis-aligned bounds)")


class ActaReading(BaseModel):
    model_config = ConfigDict(frozen=True)
    acta_id: str = Field(description="sha256 of the uploaded file's bytes")
    template: str
    variant: str
    template_score: float = Field(ge=0, le=1)
    mesa_code: str | None
    counts: dict[str, dict[str, int | None]]
    fields: list[FieldReading]
    checks: list[RuleCheck]
    needs_review: bool
    notes: NotesReading | None = Field(
        default=None, description="the notes box, where the form has one and the reader checks it"
    )
    timings_ms: dict[str, float]
