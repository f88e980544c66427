"""What the storage layer (`service.crud`) says went wrong, in its own words: no HTTP here.

`service.errors` maps each class to one HTTP status, in one place. Each error carries a stable `code`
(the `code` of the error body) and a `detail` for a person.
"""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


class NotFound(DomainError):
    """No such acta."""


class Conflict(DomainError):
    """The acta's state does not allow this (e.g. resolving a mesa that is not in conflict)."""


class StaleReview(Conflict):
    """The acta changed between reading it and writing the review, more often than the retries allow (or
    since the version the client read): nothing was written; read it again and retry."""

    retry_after_s = 1


class Invalid(DomainError):
    """The request names something the acta does not have, or a value its form cannot hold."""
