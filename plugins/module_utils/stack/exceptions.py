"""The one exception family the stack module reports to its user.

Every expected failure (bad template, invalid object, API refusal, rollout
that does not become ready) is a StackError: the module turns it into a
failed result with a message and structured details, never a traceback.
"""

from __future__ import annotations

from typing import Any


class StackError(Exception):
    """A failure with a user-facing message and extra result keys."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        # The message grows after the fact (a rollback appends its outcome).
        return self.message


class RenderError(StackError):
    """A template could not be rendered or its output is not Kubernetes YAML."""


class StackValidationError(StackError):
    """Rendered objects break the schema or the stack rules; nothing was applied."""

    def __init__(self, problems: list[str]) -> None:
        count = len(problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the rendered stack, nothing was applied:"
        super().__init__("\n".join([header, *problems]), errors=problems)


class ApiError(StackError):
    """The API server refused an operation on one object."""


class OwnershipError(StackError):
    """An object or ApplySet parent belongs to someone else; the module will not touch it."""


class WaitError(StackError):
    """Workloads did not become ready (timeout, or a failure that cannot heal)."""
