"""Settings fail fast with a message naming the variable."""

from __future__ import annotations

import pytest

from truenorth.settings import AlignmentSettings, SettingsError, SharedSettings, load


def test_defaults_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRUENORTH_NATS_URL", raising=False)
    assert load(SharedSettings).nats_url == "nats://127.0.0.1:4222"


def test_bad_integer_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUENORTH_ALIGNMENT_BATCH_SIZE", "lots")
    with pytest.raises(SettingsError, match="TRUENORTH_ALIGNMENT_BATCH_SIZE"):
        load(AlignmentSettings)


def test_every_bad_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUENORTH_NATS_URL", "http://nope")
    monkeypatch.setenv("TRUENORTH_WORKSPACE", "has spaces")
    with pytest.raises(SettingsError) as info:
        load(SharedSettings)
    assert "TRUENORTH_NATS_URL" in str(info.value)
    assert "TRUENORTH_WORKSPACE" in str(info.value)


def test_out_of_range_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUENORTH_ALIGNMENT_PORT", "70000")
    with pytest.raises(SettingsError, match="TRUENORTH_ALIGNMENT_PORT"):
        load(AlignmentSettings)


def test_log_level_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUENORTH_LOG_LEVEL", "debug")
    assert load(SharedSettings).log_level == "DEBUG"
