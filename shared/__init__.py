"""truenorth: keeps a marketing team's tactics aligned with its strategy, live."""

__version__ = "0.1.0"
