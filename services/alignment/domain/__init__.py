"""The business rules of alignment: progress, pace, status, forecasts and drift, as pure
functions over frozen views of the plan and the campaigns (docs/design.md)."""
