"""The form's arithmetic rules, checked on the values read."""

from __future__ import annotations

from pipeline.schema import RuleCheck
from pipeline.templates import Template


def check_rules(template: Template, values: dict[str, int | None]) -> list[RuleCheck]:
    """Each rule's two sides; a blank field (None) counts as 0, as on paper."""
    checks = []
    for rule in template.rules:
        left = sum(values.get(k) or 0 for k in rule.left)
        right = sum(values.get(k) or 0 for k in rule.right)
        checks.append(
            RuleCheck(rule=rule.name, ok=left == right, left=left, right=right, fields=[*rule.left, *rule.right])
        )
    return checks
