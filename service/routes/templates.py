"""The form templates the reader knows."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import ReaderDep
from service.schemas import TemplateField, TemplateInfo

router = APIRouter(tags=["templates"])


@router.get(
    "/templates",
    operation_id="list_templates",
    response_model=list[TemplateInfo],
    summary="Known forms: fields (section.KEY, label, boxes), rules and print variants",
)
def list_templates(reader: ReaderDep) -> list[TemplateInfo]:
    return [
        TemplateInfo(
            id=t.id,
            title=t.title,
            variants=[v.id for v in t.variants],
            rules=[r.name for r in t.rules],
            fields=[
                TemplateField(field=f"{s.key}.{f.key}", section=s.key, key=f.key, label=f.label, digits=f.digits)
                for s in t.sections
                for f in s.fields
            ],
        )
        for t in reader.templates.values()
    ]
