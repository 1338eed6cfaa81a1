"""TRUENORTH_ALIGNMENT_PARTITIONS: read at start, a bad value names the variable."""

from __future__ import annotations

import pytest

from truenorth.settings import AlignmentSettings, SettingsError, load


def test_the_partition_count_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRUENORTH_ALIGNMENT_PARTITIONS", "12")
    assert load(AlignmentSettings).partitions == 12


@pytest.mark.parametrize("value", ["0", "-3", "many", "2000"])
def test_a_bad_partition_count_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TRUENORTH_ALIGNMENT_PARTITIONS", value)
    with pytest.raises(SettingsError, match="TRUENORTH_ALIGNMENT_PARTITIONS"):
        load(AlignmentSettings)
