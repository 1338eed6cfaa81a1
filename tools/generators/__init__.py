"""Observability as code: Grafana dashboards, Prometheus alert rules and their CLI.

`dashboards` and `rules` are pure generators (dicts in, files out) so tests can regenerate them
and compare with what is committed under `deploy/`.
"""
