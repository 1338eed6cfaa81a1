"""Validated models the projection keeps for as long as they apply (objective specs), stored
compactly.

A pydantic model as validated carries its own set of the names of the fields it was given
(728 bytes once it holds more than four), its own copies of short strings and a time zone
object per datetime: ~2.5 KB an objective spec. The compact copy holds the same values, with
that set shared among models that set the same fields (nothing mutates it: the models are
frozen), short strings interned and UTC datetimes on the one `UTC` object. (Open drifts, up to
25 000 at 10 000 objectives, are not models at all while kept: see
`truenorth.alignment.domain.drift.KeptDrift`.)
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

_Model = TypeVar("_Model", bound=BaseModel)
_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


def compact(model: _Model) -> _Model:
    """The same model with shared parts shared."""
    values = {name: _shared(getattr(model, name)) for name in type(model).model_fields}
    fields_set = frozenset(model.model_fields_set)
    shared_fields = _FIELDS_SETS.get(fields_set)
    if shared_fields is None:
        shared_fields = _FIELDS_SETS[fields_set] = set(fields_set)
    return type(model).model_construct(_fields_set=shared_fields, **values)


def _shared(value: Any) -> Any:
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, tuple) and all(isinstance(item, str) for item in value):
        return tuple(sys.intern(item) for item in value)
    if (
        isinstance(value, datetime)
        and value.utcoffset() == timedelta(0)
        and value.tzinfo is not UTC
    ):
        return value.replace(tzinfo=UTC)
    return value
