"""JSON columns are read with orjson, and what the standard library wrote still reads."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, Table, insert, select, text

from truenorth.store.db import load_json, make_engine

documents = Table(
    "documents", MetaData(), Column("id", Integer, primary_key=True), Column("body", JSON)
)


def test_a_json_column_reads_back_what_was_written(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/json.db")
    documents.metadata.create_all(engine)
    body = {"figures": {"share": 1 / 3, "days": 10}, "campaign_ids": ["c-1"], "note": "é"}
    with engine.begin() as connection:
        connection.execute(insert(documents).values(id=1, body=body))
    with engine.connect() as connection:
        assert connection.execute(select(documents.c.body)).scalar_one() == body


def test_nan_written_by_the_standard_library_still_reads(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/json.db")
    documents.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(text("""INSERT INTO documents VALUES (1, '{"gap": NaN}')"""))
    with engine.connect() as connection:
        assert math.isnan(connection.execute(select(documents.c.body)).scalar_one()["gap"])


def test_malformed_json_is_still_an_error() -> None:
    with pytest.raises(ValueError):
        load_json('{"gap": ')
