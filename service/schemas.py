"""Request and response bodies. The acta document is the pipeline's `ActaReading` (the same JSON as
`actas read`) with one more key, `record`, for what the service knows about it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.schema import ActaReading, RuleCheck
from service.models import ActaStatus, ReviewAction, Role

SHA256_PATTERN = r"^[0-9a-f]{64}$"
# The first-round sample acta in ../shared (mesa 800412-1): a real id for examples and API tests.
EXAMPLE_ACTA_ID = "eda09b60bf62149a1d83093aa7cddf712e526535675456bee82a8e8698863647"
FieldName = Annotated[
    str,
    Field(
        min_length=3,
        max_length=96,
        pattern=r"^[a-z_]+\.[A-Z0-9_]+$",
        description="section.KEY",
        examples=["presidente.PDC"],
    ),
]


class ErrorBody(BaseModel):
    """Every error answer has this shape."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"detail": "the image matches no known form (12 matching features, 40 needed)", "code": "not_a_form"}
            ]
        }
    )
    detail: str = Field(description="what went wrong, for a person")
    code: str = Field(description="stable machine-readable reason", examples=["not_a_form"])


class ReviewEntry(BaseModel):
    """One audit record."""

    reviewer: str = Field(description="name of the API key that made the change")
    at: datetime
    action: ReviewAction
    field: str | None = Field(None, description="section.KEY, for confirm and correct")
    old_value: int | None = None
    new_value: int | None = None
    old_status: ActaStatus | None = None
    new_status: ActaStatus | None = None
    note: str | None = None
    seconds: float | None = Field(None, description="seconds the reviewer spent on the field, when sent")


class FieldState(BaseModel):
    """A field's machine value, reviewed value and the value used in the totals."""

    field: str = Field(description="section.KEY", examples=["presidente.PDC"])
    machine_value: int | None
    reviewed: bool
    reviewed_value: int | None
    value: int | None = Field(description="reviewed value where there is one, else the machine's")
    waiting_review: bool = Field(description="flagged, and no reviewer has given a value yet")


class ScanInfo(BaseModel):
    """One file stored for the acta: the first upload, or a rescan that read the same on every field."""

    sha256: str = Field(description="sha256 of the file; GET /actas/{sha256} finds the acta by it too")
    uploaded_by: str
    created_at: datetime


class ActaRecordInfo(BaseModel):
    """What the service keeps about a stored acta, beside the machine reading."""

    status: ActaStatus
    counted: bool = Field(description="whether this acta's values are in GET /results")
    needs_review: bool = Field(description="some field still waits for a reviewer")
    uploaded_by: str = Field(description="name of the API key that uploaded it")
    created_at: datetime
    conflicts_with: list[str] = Field(
        description="other stored actas claiming the same mesa of the same election (form), not superseded"
    )
    version: int = Field(description="moves on with every change; send it with a review to refuse a stale one")
    scans: list[ScanInfo] = Field(description="the files stored for this acta, first upload first")
    near_duplicates: list[str] = Field(
        description="other actas of the same form whose scan looks the same (perceptual hash within 12 of 256 "
        "bits): likely the same paper read differently"
    )
    counts: dict[str, dict[str, int | None]] = Field(description="values used in the totals, section -> KEY")
    fields: list[FieldState]
    checks: list[RuleCheck] = Field(description="the form's rules on the values used (reviewed where reviewed)")
    reviews: list[ReviewEntry] = Field(description="audit trail, oldest first")


class ActaDocument(ActaReading):
    """The pipeline's reading of the scan, unchanged, plus `record`."""

    record: ActaRecordInfo


class ActaSummary(BaseModel):
    acta_id: str
    mesa_code: str | None
    template: str
    variant: str
    status: ActaStatus
    needs_review: bool
    uploaded_by: str
    created_at: datetime


class ActaPage(BaseModel):
    total: int = Field(description="actas matching the filters, over all pages")
    limit: int
    offset: int
    items: list[ActaSummary]


class FieldReview(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # 41, not "41" or 41.0: counts are exact
    field: FieldName
    value: int | None = Field(ge=0, le=999_999, description="the count on paper; null when the boxes are blank")
    seconds: float | None = Field(
        None, ge=0, le=86_400, description="seconds the reviewer spent on this field (recorded in the audit trail)"
    )


class ReviewRequest(BaseModel):
    """Confirm or correct field values, and/or keep this scan for its mesa (superseding the others)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "fields": [{"field": "presidente.PDC", "value": 41}, {"field": "presidente.LIBRE", "value": 87}],
                    "keep_for_mesa": False,
                    "note": "checked against the paper",
                }
            ]
        },
    )
    fields: list[FieldReview] = Field(
        default_factory=list,
        max_length=200,
        description="a value equal to the machine's confirms it, another corrects it",
    )
    keep_for_mesa: bool = Field(False, description="resolve a mesa conflict: count this scan, supersede the others")
    note: str | None = Field(None, max_length=500)
    version: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="the record.version the reviewer saw: refused with 409 stale_version if the acta changed since",
    )

    @model_validator(mode="after")
    def _something(self) -> ReviewRequest:
        if not self.fields and not self.keep_for_mesa:
            raise ValueError("a review needs at least one field or keep_for_mesa")
        names = [f.field for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError("a field is named twice")
        return self


class FieldTally(BaseModel):
    machine_read: int = Field(description="fields counted as the machine read them, not flagged")
    reviewed: int = Field(description="fields with a reviewer's value")
    waiting_review: int = Field(description="flagged fields counted with the machine's value until reviewed")


class TemplateResults(BaseModel):
    template: str
    title: str
    actas: int = Field(description="stored actas of this form")
    counted: int
    flagged: int = Field(description="counted actas with fields still waiting review")
    excluded: int = Field(description="in conflict or superseded: not in the totals")
    fields: FieldTally
    totals: dict[str, dict[str, int]] = Field(description="section -> KEY -> sum over counted actas (blank = 0)")


class Results(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "actas": 3,
                    "counted": 1,
                    "flagged": 1,
                    "excluded": 2,
                    "in_conflict": 2,
                    "superseded": 0,
                    "fields": {"machine_read": 5, "reviewed": 1, "waiting_review": 2},
                    "templates": [
                        {
                            "template": "bo2025-runoff",
                            "title": "Bolivia 2025, segunda vuelta",
                            "actas": 3,
                            "counted": 1,
                            "flagged": 1,
                            "excluded": 2,
                            "fields": {"machine_read": 5, "reviewed": 1, "waiting_review": 2},
                            "totals": {"presidente": {"PDC": 41, "LIBRE": 87}},
                        }
                    ],
                }
            ]
        }
    )
    actas: int = Field(description="stored actas, every status")
    counted: int
    flagged: int
    excluded: int
    in_conflict: int
    superseded: int
    fields: FieldTally
    templates: list[TemplateResults] = Field(description="totals per form: different elections are not added up")


class TemplateField(BaseModel):
    field: str = Field(description="section.KEY")
    section: str
    key: str
    label: str
    digits: int


class TemplateInfo(BaseModel):
    id: str
    title: str
    variants: list[str]
    fields: list[TemplateField]
    rules: list[str]


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(examples=["ready"])
    model: str = Field(description="the model's name, from its card", examples=["convnext_tiny"])
    provider: str = Field(examples=["CPUExecutionProvider"])
    database: str = Field(description="database backend", examples=["sqlite"])


class KeyInfo(BaseModel):
    name: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
