"""A stand-in for the module object: holds params and flags, records what the module would report."""

from __future__ import annotations

from typing import Any


class RecordingModule:
    def __init__(self, params: dict[str, Any], check_mode: bool = False, diff: bool = False) -> None:
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self.warnings: list[str] = []
        self.exit: dict[str, Any] | None = None
        self.failure: dict[str, Any] | None = None

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def exit_json(self, **result: Any) -> None:
        self.exit = result

    def fail_json(self, **result: Any) -> None:
        self.failure = result
