"""Domain exceptions shared by fields, tags, templates and the profile service.

Every message is meant for the person who made the request: it names the
value that failed and the fix.
"""

from __future__ import annotations

from typing import Any


class FieldError(ValueError):
    """A field definition, rule, expression, tag or template that cannot be saved."""


class NotFound(LookupError):
    """The requested row does not exist in the principal's workspace."""


class ValidationFailed(ValueError):
    """Values that break a field's type or rules, with one message per field key."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(
            "; ".join(f"{key}: {message}" for key, message in self.errors.items())
        )


class ConflictError(RuntimeError):
    """The profile changed after the caller read it, so the write was not applied."""


class ConfirmationRequired(RuntimeError):
    """The change affects existing data; repeat the call with confirmation.

    report is the dataclass that describes the impact (for example a RuleImpact
    or a DeletionPlan), so that the page can show it before asking.
    """

    def __init__(self, message: str, report: Any) -> None:
        self.report = report
        super().__init__(message)
