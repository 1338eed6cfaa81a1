"""Typed refusals of the strategy domain, each carrying field-level errors with paths."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError


@dataclass(frozen=True, order=True)
class FieldError:
    """One problem at one place: `path` like `objectives[2].deadline`, `line` for YAML input."""

    path: str
    message: str
    type: str = "invariant"
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The `{field, message, type[, line]}` shape the HTTP error bodies use."""
        body: dict[str, Any] = {"field": self.path, "message": self.message, "type": self.type}
        if self.line is not None:
            body["line"] = self.line
        return body

    def under(self, prefix: str) -> FieldError:
        """The same error with its path nested under `prefix`."""
        return FieldError(join_path(prefix, self.path), self.message, self.type, self.line)


class DomainError(Exception):
    """A command or document the strategy refuses; `status` is the HTTP status it maps to."""

    status = 400
    reason = "invalid"

    def __init__(self, message: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.errors: tuple[FieldError, ...] = tuple(errors)

    def error_dicts(self) -> list[dict[str, Any]]:
        return [error.as_dict() for error in self.errors]


class StrategyNotFound(DomainError):
    status = 404
    reason = "not_found"


class DriftNotFound(DomainError):
    """An acknowledgement names a drift or incident the workspace never had."""

    status = 404
    reason = "not_found"


class UnknownDriftAnswered(DomainError):
    """A change claims to answer (`in_response_to`) a drift or incident that does not exist."""

    status = 422
    reason = "invalid"


class StrategyAlreadyDefined(DomainError):
    status = 409
    reason = "conflict"


class ObjectiveNotFound(DomainError):
    status = 404
    reason = "not_found"


class ObjectiveAlreadyExists(DomainError):
    status = 409
    reason = "conflict"


class ObjectiveRetiredError(DomainError):
    """A retired objective cannot be revised, re-retired, re-added or given guardrails."""

    status = 409
    reason = "objective_retired"


class PeriodNotFound(DomainError):
    status = 404
    reason = "not_found"


class InvariantViolated(DomainError):
    """The change would break one or more invariants; every broken one is in `errors`."""

    status = 422
    reason = "invariant_violated"

    @classmethod
    def from_errors(cls, errors: Sequence[FieldError]) -> InvariantViolated:
        summary = "; ".join(f"{e.path}: {e.message}" for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        return cls(summary + more, errors)


class DocumentInvalid(DomainError):
    """A strategy document with every problem found in it, in document order."""

    status = 422
    reason = "document_invalid"

    def __init__(self, filename: str, errors: Sequence[FieldError]) -> None:
        ordered = sorted(errors, key=lambda e: (e.line is None, e.line or 0, e.path, e.message))
        count = len(ordered)
        super().__init__(f"{filename}: {count} error{'s' if count != 1 else ''}", ordered)
        self.filename = filename

    def render(self) -> str:
        """One `file:line: path: message` line per error, compiler style, for the CLI."""
        return "\n".join(self._render_one(error) for error in self.errors)

    def _render_one(self, error: FieldError) -> str:
        where = self.filename if error.line is None else f"{self.filename}:{error.line}"
        return f"{where}: {error.path}: {error.message}"


def join_path(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix + path if path.startswith("[") else f"{prefix}.{path}"


def dotted(loc: Iterable[Any]) -> str:
    """("objectives", 2, "deadline") -> "objectives[2].deadline"; pydantic's "[key]" dropped."""
    path = ""
    for part in loc:
        if part == "[key]":
            continue
        path += f"[{part}]" if isinstance(part, int) else ("." if path else "") + str(part)
    return path


def validation_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    """pydantic's errors as FieldErrors, with paths under `prefix`."""
    return [
        FieldError(join_path(prefix, dotted(item["loc"])), item["msg"], item["type"])
        for item in error.errors(include_url=False)
    ]
