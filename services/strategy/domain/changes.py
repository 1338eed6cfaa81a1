"""Field-level differences (old → new) and how values read in plans and histories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from truenorth.strategy.domain.invariants import show_day

END_FIELDS = frozenset({"deadline", "end"})
"""Fields that hold an exclusive end: a UTC midnight there reads as the day before."""
MAX_TEXT = 60


@dataclass(frozen=True)
class FieldChange:
    """One field that changed; `field` is a dotted path (`target`, `phasing.2026-10`)."""

    field: str
    old: Any
    new: Any

    def render(self) -> str:
        return f"{self.field} {show(self.old, self.field)} → {show(self.new, self.field)}"

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": plain(self.old), "new": plain(self.new)}


def diff_models(old: BaseModel, new: BaseModel, skip: Sequence[str] = ()) -> list[FieldChange]:
    """Changes between two models of the same type, field by field, nested maps expanded."""
    changes: list[FieldChange] = []
    for name in type(new).model_fields:
        if name not in skip:
            changes += diff_values(getattr(old, name), getattr(new, name), name)
    return changes


def diff_values(old: Any, new: Any, path: str) -> list[FieldChange]:
    if old == new:
        return []
    old_map, new_map = _as_mapping(old), _as_mapping(new)
    if old_map is None or new_map is None or not (old_map or new_map):
        return [FieldChange(path, old, new)]
    changes: list[FieldChange] = []
    for key in [*old_map, *(k for k in new_map if k not in old_map)]:
        changes += diff_values(old_map.get(key), new_map.get(key), f"{path}.{key}")
    return changes


def changed_fields(changes: Sequence[FieldChange]) -> tuple[str, ...]:
    """Top-level field names, in first-seen order."""
    return tuple(dict.fromkeys(change.field.split(".")[0] for change in changes))


def _as_mapping(value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return {}
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, Mapping):
        return value
    return None


def show(value: Any, field: str = "") -> str:
    """A value as a plan or history reads it: 1000 not 1000.0, dates as days, text quoted."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return show_day(value, inclusive_end=field.split(".")[-1] in END_FIELDS)
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, BaseModel):
        return show({k: v for k, v in value.model_dump().items() if v is not None})
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(item) for item in value) + "]"
    return str(value)


def _quoted(text: str) -> str:
    flat = " ".join(text.split())
    return f'"{flat[: MAX_TEXT - 1]}…"' if len(flat) > MAX_TEXT else f'"{flat}"'


def plain(value: Any) -> Any:
    """JSON-friendly form of a value (for HTTP bodies)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value
