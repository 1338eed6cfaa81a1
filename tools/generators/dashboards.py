"""Grafana dashboards as code: *Leadership overview*, *Objective detail*, *Pipeline health*.

Why plain dicts rather than grafana-foundation-sdk: the dashboard JSON is the artefact we commit,
provision and diff in tests, so we want exact control over every byte of it. The SDK's versions
are ``EPOCH!GRAFANA_VERSION`` and its builders change output between releases
(docs/design.md#known-traps), which
would turn an SDK bump into a dashboard diff nobody asked for; dicts have no such coupling, need
no extra dependency and read like the JSON Grafana shows in "JSON model".

Every query goes to the Prometheus datasource provisioned with the fixed uid
``truenorth-prometheus`` and uses only metric names from `truenorth.metric_names` plus the
faststream, prometheus-nats-exporter and Prometheus built-in names listed in
`EXTERNAL_METRIC_PREFIXES` / `BUILTIN_METRICS`. Strategy changes are drawn as annotations on
every time-series panel from `truenorth_strategy_changes_total` (what changed) and
`truenorth_strategy_last_change_timestamp_seconds` (exactly when).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from truenorth import metric_names as m
from truenorth.contract.common import DRIFT_KINDS

Json = dict[str, Any]

DATASOURCE: Json = {"type": "prometheus", "uid": "truenorth-prometheus"}
SCHEMA_VERSION = 39
TAGS = ["truenorth"]

LEADERSHIP_UID = "truenorth-leadership"
OBJECTIVE_UID = "truenorth-objective"
PIPELINE_UID = "truenorth-pipeline"

DEFAULT_ALIGNMENT_API = "http://localhost:8104"
"""Where a browser reaches the alignment read API (drift explanations, per-campaign figures)."""

EXTERNAL_METRIC_PREFIXES = ("faststream_", "gnatsd_", "jetstream_")
"""faststream's NatsPrometheusMiddleware and prometheus-nats-exporter (varz, jsz)."""
NATS_EXPORTER_PREFIXES = ("gnatsd_", "jetstream_")
"""Only present where prometheus-nats-exporter runs (compose), not with the embedded server."""
BUILTIN_METRICS = frozenset({"up"})

DRIFT_WHY: Mapping[str, str] = {
    "objective_off_pace": "Objective at risk or off track; linked campaigns lag",
    "untethered_spend": "Spend on campaigns tied to no active objective",
    "idle_objective": "Active objective with no live campaign",
    "channel_mix_drift": "Channel spend share off the planned mix (or channel not allowed)",
    "audience_mismatch": "Campaign segment is not a target segment of the strategy",
    "inefficient_tactic": "Cost per outcome far above plan, or spend with no outcome",
    "budget_overrun": "Spend ahead of the budget's time-phased plan",
    "stale_data": "A live campaign reported no metrics recently",
}
"""One line per drift kind (docs/design.md#drift) for the table's *why* column; the read API has the
full explanation (which campaigns, which numbers)."""
assert set(DRIFT_WHY) == set(DRIFT_KINDS), "every drift kind needs a one-line explanation"

STATUS_COLORS: Mapping[str, str] = {
    "not_started": "text",
    "on_track": "green",
    "at_risk": "yellow",
    "off_track": "red",
    "achieved": "blue",
    "missed": "dark-red",
}
assert set(STATUS_COLORS) == set(m.STATUSES)

# -- selectors ------------------------------------------------------------------------------

ALL = 'workspace=~"$workspace", strategy=~"$strategy"'
ONE = 'workspace="$workspace", strategy=~"$strategy", objective="$objective"'


def sel(metric: str, selector: str) -> str:
    return f"{metric}{{{selector}}}"


# -- panel builders -------------------------------------------------------------------------


def target(
    expr: str, legend: str = "", *, instant: bool = False, table: bool = False, ref: str = "A"
) -> Json:
    return {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "format": "table" if table else "time_series",
        "instant": instant,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "refId": ref,
    }


def targets(*specs: tuple[str, str]) -> list[Json]:
    return [target(expr, legend, ref=chr(ord("A") + i)) for i, (expr, legend) in enumerate(specs)]


def thresholds(*steps: tuple[float | None, str]) -> Json:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


PACE_THRESHOLDS = thresholds((None, "red"), (0.8, "yellow"), (0.95, "green"))
FORECAST_THRESHOLDS = thresholds((None, "red"), (0.8, "yellow"), (1.0, "green"))
HIT_THRESHOLDS = thresholds((None, "red"), (0.5, "yellow"), (0.8, "green"))

FORECAST_TEXT = (
    "Progress expected at the deadline (1 = the target): sum KPIs extrapolate the trailing "
    "run-rate, level and ratio KPIs the trend of the level, bounded to what is possible. The "
    "80 % interval comes from the variability of the daily series."
)
HIT_TEXT = (
    "Probability of reaching the target by the deadline, from the same forecast and the "
    "variability of the daily series."
)


def panel(
    kind: str,
    title: str,
    panel_targets: list[Json],
    *,
    w: int,
    h: int,
    description: str = "",
    unit: str = "short",
    minimum: float | None = None,
    maximum: float | None = None,
    steps: Json | None = None,
    options: Json | None = None,
    custom: Json | None = None,
    overrides: list[Json] | None = None,
    transformations: list[Json] | None = None,
    links: list[Json] | None = None,
    mappings: list[Json] | None = None,
) -> Json:
    defaults: Json = {"unit": unit, "thresholds": steps or thresholds((None, "green"))}
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    if custom:
        defaults["custom"] = custom
    if mappings:
        defaults["mappings"] = mappings
    result: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": panel_targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
        "gridPos": {"w": w, "h": h},
    }
    if transformations:
        result["transformations"] = transformations
    if links:
        result["links"] = links
    return result


def timeseries(
    title: str,
    panel_targets: list[Json],
    *,
    bars: bool = False,
    custom_extra: Json | None = None,
    **kw: Any,
) -> Json:
    custom: Json = {
        "drawStyle": "bars" if bars else "line",
        "fillOpacity": 60 if bars else 10,
        "lineWidth": 2,
        "showPoints": "never",
        "spanNulls": True,
        "stacking": {"mode": "normal" if bars else "none", "group": "A"},
        **(custom_extra or {}),
    }
    options = {
        "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel("timeseries", title, panel_targets, custom=custom, options=options, **kw)


def band_overrides(low: str, high: str) -> list[Json]:
    """Draw `low`..`high` as a shaded band: the high series fills down to the low one, both
    as thin lines."""
    band = {"mode": "fixed", "fixedColor": "purple"}
    return [
        field_override(low, ("color", band), ("custom.lineWidth", 0)),
        field_override(
            high,
            ("color", band),
            ("custom.lineWidth", 0),
            ("custom.fillBelowTo", low),
            ("custom.fillOpacity", 20),
        ),
    ]


def reduce_options(**extra: Any) -> Json:
    return {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, **extra}


def stat(title: str, panel_targets: list[Json], *, text_mode: str = "value", **kw: Any) -> Json:
    options = reduce_options(colorMode="background", graphMode="none", textMode=text_mode)
    return panel("stat", title, panel_targets, options=options, **kw)


def bargauge(title: str, panel_targets: list[Json], **kw: Any) -> Json:
    options = reduce_options(
        displayMode="gradient", orientation="horizontal", showUnfilled=True, namePlacement="left"
    )
    return panel("bargauge", title, panel_targets, options=options, **kw)


def gauge(title: str, panel_targets: list[Json], **kw: Any) -> Json:
    options = reduce_options(showThresholdMarkers=True, showThresholdLabels=False)
    return panel("gauge", title, panel_targets, options=options, **kw)


def table(title: str, expr: str, *, hide: tuple[str, ...] = ("Time",), **kw: Any) -> Json:
    organize = {
        "id": "organize",
        "options": {"excludeByName": {name: True for name in hide}, "renameByName": {}},
    }
    return panel(
        "table",
        title,
        [target(expr, instant=True, table=True)],
        transformations=[organize],
        options={"showHeader": True, "cellHeight": "sm", "footer": {"show": False}},
        **kw,
    )


def status_mappings() -> list[Json]:
    return [
        {
            "type": "value",
            "options": {
                status: {"text": status.replace("_", " "), "color": color, "index": i}
                for i, (status, color) in enumerate(STATUS_COLORS.items())
            },
        }
    ]


def field_override(name: str, *properties: tuple[str, Any]) -> Json:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": key, "value": value} for key, value in properties],
    }


SEVERITY_COLORS: list[Json] = [
    {
        "type": "value",
        "options": {
            "critical": {"color": "red", "index": 0},
            "warning": {"color": "orange", "index": 1},
            "info": {"color": "blue", "index": 2},
        },
    }
]


def drift_table(title: str, selector: str, *, w: int = 24, h: int = 9) -> Json:
    """Open drifts with a *why* column (a value mapping of the kind) and a link per row to the
    read API, which holds the full explanation text (labels must stay bounded, so the text is
    not a metric label)."""
    expr = (
        "label_replace(sum by (workspace, strategy, objective, kind, severity) ("
        f"{sel(m.DRIFT_OPEN, selector)}) > 0, "
        '"why", "$1", "kind", "(.*)")'
    )
    why = [
        {
            "type": "value",
            "options": {k: {"text": t, "index": i} for i, (k, t) in enumerate(DRIFT_WHY.items())},
        }
    ]
    link = (
        "${alignment_api}/v1/workspaces/${__data.fields.workspace}/drifts"
        "?kind=${__data.fields.kind}&objective=${__data.fields.objective}"
    )
    return table(
        title,
        expr,
        w=w,
        h=h,
        description=(
            "Open drifts (docs/design.md#drift). *why* says what the kind means; click "
            "*explanation* for the "
            "full text from the alignment read API (linked campaigns, figures, since when)."
        ),
        overrides=[
            field_override("why", ("mappings", why), ("custom.width", 420)),
            field_override(
                "severity",
                ("mappings", SEVERITY_COLORS),
                ("custom.cellOptions", {"type": "color-text"}),
            ),
            field_override(
                "Value",
                ("displayName", "explanation"),
                (
                    "links",
                    [{"title": "Full explanation (read API)", "url": link, "targetBlank": True}],
                ),
            ),
        ],
    )


def incident_table(title: str, selector: str, *, w: int = 24, h: int = 7) -> Json:
    """Open incidents (drifts with one cause), one row each, what the alerts fire on; a link
    per row to the read API's incidents (facets, acknowledgements, answers)."""
    expr = (
        f"max by (workspace, strategy, incident, severity) ({sel(m.INCIDENT_OPEN, selector)}) > 0"
    )
    link = "${alignment_api}/v1/workspaces/${__data.fields.workspace}/incidents"
    return table(
        title,
        expr,
        w=w,
        h=h,
        description=(
            "One row per cause: the drifts one campaign (or channel, or objective) causes are "
            "one incident, shown with its highest severity. Click *facets* for its drifts, "
            "acknowledgements and the strategy changes that answered it (alignment read API)."
        ),
        overrides=[
            field_override(
                "severity",
                ("mappings", SEVERITY_COLORS),
                ("custom.cellOptions", {"type": "color-text"}),
            ),
            field_override(
                "Value",
                ("displayName", "facets"),
                ("links", [{"title": "Incidents (read API)", "url": link, "targetBlank": True}]),
            ),
        ],
    )


# -- annotations and variables ----------------------------------------------------------------


def strategy_annotations(selector: str) -> Json:
    changes = (
        f"sum by (workspace, strategy, kind) (changes({sel(m.STRATEGY_CHANGES, selector)}[2m])) > 0"
    )
    exact = f"{sel(m.STRATEGY_LAST_CHANGE, selector)} * 1000"
    return {
        "list": [
            {
                "builtIn": 1,
                "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                "enable": True,
                "hide": True,
                "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts",
                "type": "dashboard",
            },
            {
                "datasource": DATASOURCE,
                "enable": True,
                "expr": changes,
                "iconColor": "purple",
                "name": "Strategy changes",
                "step": "1m",
                "tagKeys": "kind,strategy",
                "textFormat": "{{kind}} on strategy {{strategy}} ({{workspace}})",
                "titleFormat": "{{kind}}",
            },
            {
                "datasource": DATASOURCE,
                "enable": False,
                "expr": exact,
                "iconColor": "orange",
                "name": "Strategy last change (exact time)",
                "step": "1m",
                "tagKeys": "strategy",
                "textFormat": "strategy {{strategy}} changed",
                "titleFormat": "strategy change",
                "useValueForTime": True,
            },
        ]
    }


def query_variable(name: str, query: str, *, multi: bool, label: str = "") -> Json:
    return {
        "name": name,
        "label": label or name,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {
            "qryType": 1,
            "query": query,
            "refId": "PrometheusVariableQueryEditor-VariableQuery",
        },
        "refresh": 2,
        "multi": multi,
        "includeAll": multi,
        **({"allValue": ".*"} if multi else {}),
        "current": {},
        "sort": 1,
        "hide": 0,
        "options": [],
    }


def text_variable(name: str, value: str, label: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "textbox",
        "query": value,
        "current": {"text": value, "value": value},
        "hide": 0,
        "options": [{"selected": True, "text": value, "value": value}],
    }


def scope_variables(*, multi_workspace: bool) -> list[Json]:
    return [
        query_variable(
            "workspace", f"label_values({m.OBJECTIVE_STATUS}, workspace)", multi=multi_workspace
        ),
        query_variable(
            "strategy",
            f'label_values({m.OBJECTIVE_STATUS}{{workspace=~"$workspace"}}, strategy)',
            multi=True,
        ),
    ]


def alignment_api_variable() -> Json:
    return text_variable("alignment_api", DEFAULT_ALIGNMENT_API, "Alignment read API")


# -- layout ---------------------------------------------------------------------------------


def layout(panels: list[Json]) -> list[Json]:
    """Flow panels left to right into a 24-column grid and number them."""
    x = y = row_height = 0
    for number, p in enumerate(panels, start=1):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y, row_height = 0, y + row_height, 0
        p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        p["id"] = number
        x += w
        row_height = max(row_height, h)
    return panels


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[Json],
    variables: list[Json],
    selector: str,
    links: list[Json] | None = None,
) -> Json:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": TAGS,
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": "now-7d", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "annotations": strategy_annotations(selector),
        "templating": {"list": variables},
        "links": links or DASHBOARD_LINKS,
        "panels": layout(panels),
    }


DASHBOARD_LINKS: list[Json] = [
    {
        "title": "truenorth",
        "type": "dashboards",
        "tags": TAGS,
        "asDropdown": True,
        "includeVars": True,
        "keepTime": True,
    }
]

# -- the three dashboards -------------------------------------------------------------------


def leadership_overview() -> Json:
    objective_link = [
        {
            "title": "Objective detail",
            "url": f"/d/{OBJECTIVE_UID}/objective-detail"
            "?var-workspace=${__field.labels.workspace}"
            "&var-objective=${__field.labels.objective}&${__url_time_range}",
        }
    ]
    panels = [
        bargauge(
            "Progress vs expected",
            targets(
                (sel(m.OBJECTIVE_PROGRESS, ALL), "{{objective}} · progress"),
                (sel(m.OBJECTIVE_EXPECTED, ALL), "{{objective}} · expected"),
            ),
            w=12,
            h=10,
            unit="percentunit",
            minimum=0,
            maximum=1.2,
            steps=thresholds((None, "blue")),
            description="Progress (A − baseline) / (target − baseline) next to where it should be "
            "by now (elapsed share or phasing).",
            overrides=[
                {
                    "matcher": {"id": "byRegexp", "options": ".*expected"},
                    "properties": [
                        {"id": "color", "value": {"mode": "fixed", "fixedColor": "gray"}}
                    ],
                }
            ],
        ),
        table(
            "Status",
            f"max by (workspace, strategy, objective, kpi, status) "
            f"({sel(m.OBJECTIVE_STATUS, ALL)}) == 1",
            hide=("Time", "Value"),
            w=12,
            h=10,
            description="Current status per objective "
            "(docs/design.md#progress-pace-forecast-status). Click an objective for detail.",
            overrides=[
                field_override(
                    "status",
                    ("mappings", status_mappings()),
                    ("custom.cellOptions", {"type": "color-background"}),
                ),
                field_override(
                    "objective",
                    (
                        "links",
                        [
                            {
                                "title": "Objective detail",
                                "url": f"/d/{OBJECTIVE_UID}/objective-detail?var-workspace="
                                "${__data.fields.workspace}&var-objective=${__data.fields.objective}"
                                "&${__url_time_range}",
                            }
                        ],
                    ),
                ),
            ],
        ),
        bargauge(
            "Pace (progress / expected)",
            targets((sel(m.OBJECTIVE_PACE, ALL), "{{objective}}")),
            w=8,
            h=8,
            minimum=0,
            maximum=1.5,
            steps=PACE_THRESHOLDS,
            links=objective_link,
            description="on track ≥ 0.95, at risk ≥ 0.80, off track below (guardrails).",
        ),
        gauge(
            "Forecast attainment at deadline",
            targets((sel(m.OBJECTIVE_FORECAST_ATTAINMENT, ALL), "{{objective}}")),
            w=8,
            h=8,
            unit="percentunit",
            minimum=0,
            maximum=1.5,
            steps=FORECAST_THRESHOLDS,
            description=FORECAST_TEXT + " Objective detail shows the interval and P(hit).",
        ),
        stat(
            "Aligned spend",
            targets((sel(m.ALIGNED_SPEND_RATIO, ALL), "{{strategy}}")),
            w=8,
            h=8,
            unit="percentunit",
            minimum=0,
            maximum=1,
            steps=thresholds((None, "red"), (0.8, "yellow"), (0.9, "green")),
            description="Spend on campaigns tied to active objectives / all spend.",
        ),
        bargauge(
            "Channel mix: actual vs plan",
            targets(
                (sel(m.CHANNEL_SPEND_SHARE, ALL), "{{channel}} · actual"),
                (sel(m.CHANNEL_PLANNED_SHARE, ALL), "{{channel}} · plan"),
            ),
            w=12,
            h=9,
            unit="percentunit",
            minimum=0,
            maximum=1,
            steps=thresholds((None, "blue")),
            description="Share of period spend per channel against the planned budget mix.",
            overrides=[
                {
                    "matcher": {"id": "byRegexp", "options": ".*plan"},
                    "properties": [
                        {"id": "color", "value": {"mode": "fixed", "fixedColor": "gray"}}
                    ],
                }
            ],
        ),
        timeseries(
            "Open drifts by kind and severity",
            targets(
                (f"sum by (kind, severity) ({sel(m.DRIFT_OPEN, ALL)})", "{{kind}} · {{severity}}")
            ),
            bars=True,
            w=12,
            h=9,
            description="Open drift count over time; strategy changes are annotated.",
        ),
        timeseries(
            "Progress over time",
            targets(
                (sel(m.OBJECTIVE_PROGRESS, ALL), "{{objective}} · progress"),
                (sel(m.OBJECTIVE_EXPECTED, ALL), "{{objective}} · expected"),
            ),
            w=24,
            h=8,
            unit="percentunit",
            description="Progress and expected progress; annotations mark strategy changes.",
        ),
        incident_table("Open incidents", ALL),
        drift_table("Open drifts", ALL),
    ]
    return dashboard(
        LEADERSHIP_UID,
        "truenorth · Leadership overview",
        "Are the tactics serving the strategy? Objectives, pace, forecast, spend alignment, drift.",
        panels,
        [*scope_variables(multi_workspace=True), alignment_api_variable()],
        ALL,
    )


def objective_detail() -> Json:
    def of(metric: str) -> str:
        return sel(metric, ONE)

    baseline, target_, actual = (
        of(m.OBJECTIVE_BASELINE),
        of(m.OBJECTIVE_TARGET),
        of(m.OBJECTIVE_ACTUAL),
    )
    span = f"({target_} - {baseline})"
    read_api = [
        {
            "title": "Linked campaigns (read API)",
            "url": "${alignment_api}/v1/workspaces/${workspace}/objectives/${objective}",
            "targetBlank": True,
        }
    ]
    panels = [
        stat(
            "Status",
            targets((f"max by (status) ({of(m.OBJECTIVE_STATUS)}) == 1", "{{status}}")),
            text_mode="name",
            w=4,
            h=5,
            mappings=status_mappings(),
            steps=thresholds((None, "text")),
        ),
        stat(
            "Progress",
            targets((of(m.OBJECTIVE_PROGRESS), "progress")),
            w=3,
            h=5,
            unit="percentunit",
            steps=thresholds((None, "blue")),
        ),
        stat("Pace", targets((of(m.OBJECTIVE_PACE), "pace")), w=3, h=5, steps=PACE_THRESHOLDS),
        stat(
            "Forecast attainment (80 % interval)",
            targets(
                (of(m.OBJECTIVE_FORECAST_ATTAINMENT_LOW), "80 % low"),
                (of(m.OBJECTIVE_FORECAST_ATTAINMENT), "forecast"),
                (of(m.OBJECTIVE_FORECAST_ATTAINMENT_HIGH), "80 % high"),
            ),
            text_mode="value_and_name",
            w=5,
            h=5,
            unit="percentunit",
            steps=FORECAST_THRESHOLDS,
            description=FORECAST_TEXT,
        ),
        stat(
            "P(hit)",
            targets((of(m.OBJECTIVE_HIT_PROBABILITY), "P(hit)")),
            w=3,
            h=5,
            unit="percentunit",
            minimum=0,
            maximum=1,
            steps=HIT_THRESHOLDS,
            description=HIT_TEXT,
        ),
        stat(
            "Required per day",
            targets((of(m.OBJECTIVE_REQUIRED_RATE), "required/day")),
            w=3,
            h=5,
            description="KPI units per day still needed to reach the target.",
        ),
        stat(
            "Days left",
            targets((f"({of(m.OBJECTIVE_DEADLINE)} - time()) / 86400", "days left")),
            w=3,
            h=5,
            unit="none",
            steps=thresholds((None, "red"), (7, "yellow"), (30, "green")),
        ),
        timeseries(
            "Actual vs target vs expected pace",
            targets(
                (actual, "actual"),
                (target_, "target"),
                (f"{baseline} + {of(m.OBJECTIVE_EXPECTED)} * {span}", "expected pace"),
                (
                    f"{baseline} + {of(m.OBJECTIVE_FORECAST_ATTAINMENT)} * {span}",
                    "forecast at deadline",
                ),
                (
                    f"{baseline} + {of(m.OBJECTIVE_FORECAST_ATTAINMENT_LOW)} * {span}",
                    "forecast 80 % low",
                ),
                (
                    f"{baseline} + {of(m.OBJECTIVE_FORECAST_ATTAINMENT_HIGH)} * {span}",
                    "forecast 80 % high",
                ),
            ),
            w=24,
            h=10,
            description="The KPI against its target and the line it should follow (linear or "
            "phased); the forecast is the KPI expected at the deadline, the band its 80 % "
            "interval.",
            overrides=[
                field_override(
                    "target",
                    ("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}),
                    ("color", {"mode": "fixed", "fixedColor": "green"}),
                ),
                field_override("expected pace", ("color", {"mode": "fixed", "fixedColor": "gray"})),
                field_override(
                    "forecast at deadline",
                    ("custom.lineStyle", {"fill": "dot", "dash": [0, 10]}),
                    ("color", {"mode": "fixed", "fixedColor": "purple"}),
                ),
                *band_overrides("forecast 80 % low", "forecast 80 % high"),
            ],
        ),
        timeseries(
            "Forecast attainment at the deadline, with its 80 % interval",
            targets(
                (of(m.OBJECTIVE_FORECAST_ATTAINMENT), "forecast"),
                (of(m.OBJECTIVE_FORECAST_ATTAINMENT_LOW), "80 % low"),
                (of(m.OBJECTIVE_FORECAST_ATTAINMENT_HIGH), "80 % high"),
            ),
            w=12,
            h=9,
            unit="percentunit",
            steps=FORECAST_THRESHOLDS,
            custom_extra={"thresholdsStyle": {"mode": "dashed"}},
            description=FORECAST_TEXT,
            overrides=[
                field_override("forecast", ("color", {"mode": "fixed", "fixedColor": "purple"})),
                *band_overrides("80 % low", "80 % high"),
            ],
        ),
        timeseries(
            "P(hit): probability of reaching the target by the deadline",
            targets((of(m.OBJECTIVE_HIT_PROBABILITY), "P(hit)")),
            w=12,
            h=9,
            unit="percentunit",
            minimum=0,
            maximum=1,
            steps=HIT_THRESHOLDS,
            custom_extra={"thresholdsStyle": {"mode": "line+area"}},
            description=HIT_TEXT,
        ),
        timeseries(
            "Run-rate per day: required vs actual",
            targets(
                (of(m.OBJECTIVE_REQUIRED_RATE), "required"),
                (f"deriv({actual}[1d]) * 86400", "actual (trailing 24h)"),
            ),
            w=12,
            h=9,
            description="What the burn alerts compare: the rate still needed against the rate "
            "achieved (sum KPIs: units/day; level KPIs: change/day).",
        ),
        timeseries(
            "Linked campaigns: spend and outcome",
            targets(
                (f"sum by (objective) ({of(m.OBJECTIVE_SPEND)})", "spend"),
                (f"{actual} - {baseline}", "outcome (actual − baseline)"),
            ),
            w=12,
            h=9,
            links=read_api,
            description="Spend of the campaigns linked to this objective and the outcome they "
            "produced. Campaign ids are unbounded, so the per-campaign breakdown is in the read "
            "API (panel link).",
            overrides=[
                field_override("spend", ("custom.axisPlacement", "right"), ("unit", "currencyUSD"))
            ],
        ),
        timeseries(
            "Drift history",
            targets((f"sum by (kind, severity) ({of(m.DRIFT_OPEN)})", "{{kind}} · {{severity}}")),
            bars=True,
            w=24,
            h=8,
            description="Drifts open on this objective over time.",
        ),
        drift_table("Open drifts on this objective", ONE),
    ]
    variables = [
        *scope_variables(multi_workspace=False),
        query_variable(
            "objective",
            f'label_values({m.OBJECTIVE_STATUS}{{workspace="$workspace", strategy=~"$strategy"}}, '
            "objective)",
            multi=False,
        ),
        alignment_api_variable(),
    ]
    return dashboard(
        OBJECTIVE_UID,
        "truenorth · Objective detail",
        "One objective: actual vs target vs expected pace, forecast with its 80 % interval and "
        "P(hit), linked spend, drift history.",
        panels,
        variables,
        'workspace="$workspace", strategy=~"$strategy"',
    )


def pipeline_health() -> Json:
    rate_window = "$__rate_interval"
    panels = [
        timeseries(
            "Events applied per second, by stream",
            targets((f"sum by (stream) (rate({m.EVENTS_APPLIED}[{rate_window}]))", "{{stream}}")),
            w=12,
            h=8,
            unit="ops",
        ),
        timeseries(
            "Projection lag (events behind the stream head)",
            targets((f"max by (stream) ({m.PROJECTION_LAG})", "{{stream}}")),
            w=12,
            h=8,
        ),
        stat(
            "DLQ size",
            targets((f"max({m.DLQ_SIZE})", "DLQ")),
            w=3,
            h=6,
            steps=thresholds((None, "green"), (1, "orange")),
        ),
        stat(
            "Stalled consumers",
            targets((f"sum({m.CONSUMER_STALLED})", "stalled")),
            w=3,
            h=6,
            steps=thresholds((None, "green"), (1, "red")),
        ),
        stat(
            "Seconds since last drift tick",
            targets((f"time() - max({m.LAST_TICK})", "since tick")),
            w=3,
            h=6,
            unit="s",
            steps=thresholds((None, "green"), (60, "orange"), (300, "red")),
        ),
        stat(
            "Seconds the oldest unpublished drift event has waited",
            # 0 while none waits (the gauge is 0 then), not "no data"
            targets(
                (
                    f"max((time() - {m.DRIFT_OUTBOX_OLDEST}) * ({m.DRIFT_OUTBOX_OLDEST} > bool 0))",
                    "waiting",
                )
            ),
            w=3,
            h=6,
            unit="s",
            steps=thresholds((None, "green"), (120, "orange"), (900, "red")),
        ),
        timeseries(
            "Last applied sequence",
            targets((f"max by (stream) ({m.LAST_APPLIED_SEQUENCE})", "{{stream}}")),
            w=12,
            h=6,
        ),
        timeseries(
            "DLQ size over time",
            targets((f"max({m.DLQ_SIZE})", "DLQ messages")),
            w=12,
            h=8,
        ),
        timeseries(
            "Batch commit latency",
            targets(
                (
                    f"histogram_quantile(0.5, sum by (le) (rate({m.BATCH_COMMIT_SECONDS}_bucket"
                    f"[{rate_window}])))",
                    "p50",
                ),
                (
                    f"histogram_quantile(0.99, sum by (le) (rate({m.BATCH_COMMIT_SECONDS}_bucket"
                    f"[{rate_window}])))",
                    "p99",
                ),
            ),
            w=12,
            h=8,
            unit="s",
            description="Rows, checkpoint and processed ids committed in one transaction.",
        ),
        timeseries(
            "Redeliveries and intake rejects per second",
            targets(
                (
                    f"sum by (stream) (rate({m.REDELIVERIES}[{rate_window}])) or vector(0)",
                    "redelivered {{stream}}",
                ),
                (
                    f"sum by (service, reason) (rate({m.INTAKE_REJECTED}[{rate_window}])) "
                    "or vector(0)",
                    "rejected {{service}} {{reason}}",
                ),
            ),
            w=12,
            h=8,
            unit="ops",
        ),
        timeseries(
            "Scrape targets up",
            targets(('up{job=~"truenorth-.*|nats"}', "{{job}} {{instance}}")),
            w=12,
            h=8,
            minimum=0,
            maximum=1,
        ),
        timeseries(
            "faststream: messages received per second",
            targets(
                (
                    f"sum by (app_name, handler) "
                    f"(rate(faststream_received_messages_total[{rate_window}]))",
                    "{{app_name}} {{handler}}",
                )
            ),
            w=8,
            h=8,
            unit="ops",
        ),
        timeseries(
            "faststream: processing by status",
            targets(
                (
                    f"sum by (app_name, status) "
                    f"(rate(faststream_received_processed_messages_total[{rate_window}]))",
                    "{{app_name}} {{status}}",
                )
            ),
            w=8,
            h=8,
            unit="ops",
        ),
        timeseries(
            "faststream: processing p99",
            targets(
                (
                    f"histogram_quantile(0.99, sum by (le, app_name) "
                    f"(rate(faststream_received_processed_messages_duration_seconds_bucket"
                    f"[{rate_window}])))",
                    "{{app_name}}",
                )
            ),
            w=8,
            h=8,
            unit="s",
        ),
        timeseries(
            "NATS: messages per second",
            targets(
                (
                    f"sum by (server_id) (rate(gnatsd_varz_in_msgs[{rate_window}]))",
                    "in {{server_id}}",
                ),
                (
                    f"sum by (server_id) (rate(gnatsd_varz_out_msgs[{rate_window}]))",
                    "out {{server_id}}",
                ),
            ),
            w=8,
            h=8,
            unit="ops",
            description="prometheus-nats-exporter (compose); absent with the embedded server.",
        ),
        timeseries(
            "NATS: connections and slow consumers",
            targets(
                ("sum by (server_id) (gnatsd_varz_connections)", "connections {{server_id}}"),
                ("sum by (server_id) (gnatsd_varz_slow_consumers)", "slow {{server_id}}"),
            ),
            w=8,
            h=8,
        ),
        timeseries(
            "JetStream: messages per stream, consumer pending",
            targets(
                ("max by (stream_name) (jetstream_stream_total_messages)", "{{stream_name}}"),
                (
                    "max by (stream_name, consumer_name) (jetstream_consumer_num_pending)",
                    "pending {{stream_name}}/{{consumer_name}}",
                ),
            ),
            w=8,
            h=8,
        ),
    ]
    return dashboard(
        PIPELINE_UID,
        "truenorth · Pipeline health",
        "Is the event pipeline keeping up? Throughput, lag, DLQ, commit latency, broker health.",
        panels,
        [],
        'workspace=~".*"',
    )


BUILDERS = {
    "leadership-overview": leadership_overview,
    "objective-detail": objective_detail,
    "pipeline-health": pipeline_health,
}


def build_dashboards() -> dict[str, Json]:
    return {name: build() for name, build in BUILDERS.items()}


def render(dashboard_json: Json) -> str:
    """Stable text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(dashboard_json, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate_dashboards(out_dir: Path) -> list[Path]:
    """Write every dashboard as `<name>.json` into `out_dir`; returns the paths, sorted."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, board in sorted(build_dashboards().items()):
        path = out_dir / f"{name}.json"
        path.write_text(render(board), encoding="utf-8")
        paths.append(path)
    return paths


# -- introspection (tests and the e2e PromQL check) -----------------------------------------


def expressions(board: Json) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and annotation query of a dashboard."""
    for p in board["panels"]:
        for t in p.get("targets", []):
            yield f"{board['uid']}/{p['title']}/{t['refId']}", t["expr"]
    for a in board["annotations"]["list"]:
        if "expr" in a:
            yield f"{board['uid']}/annotation {a['name']}", a["expr"]


_VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*)\}?")
"""A variable name starts with a letter or `_`: `$1` in a `label_replace` replacement is a
regex back-reference, which Grafana leaves alone (it has no variable of that name)."""


def interpolate(expr: str, values: Mapping[str, str], rate_interval: str = "1m") -> str:
    """Replace Grafana variables as Grafana would (`$__rate_interval`, `$__interval`, `$x`).
    Unknown variables become `.*`, which is what *All* sends for multi-value variables;
    `$1`-style back-references stay as they are."""
    builtins = {"__rate_interval": rate_interval, "__interval": rate_interval}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return builtins.get(name) or values.get(name, ".*")

    return _VARIABLE.sub(replace, expr)


_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_KEYWORDS = frozenset(
    {
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "or",
        "and",
        "unless",
        "offset",
    }
)
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names_in(expr: str) -> set[str]:
    """Metric names an expression reads: identifiers left once strings, label matchers, range
    selectors and grouping clauses are removed, and that are not functions or keywords."""
    cleaned = re.sub(r'"[^"]*"', '""', expr)
    cleaned = re.sub(r"\{[^}]*\}", " ", cleaned)
    cleaned = re.sub(r"\[[^\]]*\]", " ", cleaned)
    cleaned = _GROUPING.sub(" ", cleaned)
    names = set()
    for match in _IDENTIFIER.finditer(cleaned):
        word = match.group(0)
        if word in _KEYWORDS or cleaned[match.end() :].lstrip().startswith("("):
            continue
        if match.start() > 0 and (
            cleaned[match.start() - 1].isdigit() or cleaned[match.start() - 1] == "."
        ):
            continue  # exponent or unit of a number literal such as 1e3
        names.add(word)
    return names
