"""The quarterly strategy-to-tactics review (`truenorth review`): built from the event log
only, so any past quarter reproduces exactly."""
