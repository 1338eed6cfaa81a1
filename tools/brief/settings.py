"""The brief's TRUENORTH_BRIEF_* settings (read by `truenorth up` and `truenorth brief`), kept
beside the brief: the schedule is validated by the brief's own parser, and `shared/` must not
depend on a tool. `truenorth.settings.load` names the variable of a bad value."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from truenorth.brief.schedule import Schedule, parse_schedule
from truenorth.contract.envelope import Slug


class BriefSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRUENORTH_BRIEF_", extra="ignore", frozen=True)

    webhook_url: str | None = Field(default=None, pattern=r"^https?://[^/\s]+")
    """A Slack-compatible incoming webhook; with `schedule`, `truenorth up` posts there."""
    schedule: str | None = None
    """`mon 08:00`: a weekday and a UTC time."""
    workspace: Slug | None = None
    """Default: TRUENORTH_WORKSPACE."""
    strategy: Slug | None = None
    """Only this strategy (default: every strategy of the workspace)."""

    @field_validator("webhook_url", "schedule", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is not None:
            parse_schedule(value)
        return value

    @model_validator(mode="after")
    def _both_or_neither(self) -> BriefSettings:
        if self.schedule and not self.webhook_url:
            raise ValueError(
                "TRUENORTH_BRIEF_SCHEDULE is set but TRUENORTH_BRIEF_WEBHOOK_URL is not: "
                "set the webhook to post the brief to"
            )
        if self.webhook_url and not self.schedule:
            raise ValueError(
                "TRUENORTH_BRIEF_WEBHOOK_URL is set but TRUENORTH_BRIEF_SCHEDULE is not: "
                "set a weekday and a UTC time, like 'mon 08:00'"
            )
        return self

    @property
    def parsed_schedule(self) -> Schedule | None:
        return None if self.schedule is None else parse_schedule(self.schedule)
