"""The alignment service's built-in page (`/`): the objective tree with progress against
expected, status and forecast, the channel mix, and the open drifts with their explanations.

For the embedded default where no Grafana runs. Read-only and server-rendered from the
in-memory snapshot (no build step, no query per view): the page refreshes its live part
every few seconds from `/ui/live` (or with a meta refresh when scripts are off).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from html import escape
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from truenorth.alignment.domain.snapshot import (
    AlignedSpendSnapshot,
    ChannelShareSnapshot,
    ObjectiveSnapshot,
    OpenDrift,
    Snapshot,
)
from truenorth.alignment.views import parse_moment, past_snapshot

REFRESH_SECONDS = 3
STATUS_WORDS = {
    "on_track": "on track",
    "at_risk": "at risk",
    "off_track": "off track",
    "achieved": "achieved",
    "missed": "missed",
    "not_started": "not started",
}
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}

Workspace = Annotated[
    str | None, Query(max_length=64, description="Show one workspace (default: all)")
]
AsOf = Annotated[
    str | None,
    Query(max_length=40, description="Show the plan and facts as of this time (a date: its end)"),
]
KnownAt = Annotated[
    str | None, Query(max_length=40, description="Only what was recorded by this time")
]

STYLE = """
:root { --ok:#1a7f37; --warn:#b58100; --bad:#cf222e; --info:#0969da; --muted:#59636e;
  --line:#d1d9e0; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
  color:#1f2328; background:#fff; }
header { display:flex; flex-wrap:wrap; gap:16px; align-items:baseline; padding:14px 24px;
  border-bottom:1px solid var(--line); background:var(--bg); }
header h1 { font-size:18px; margin:0; }
header .asof { color:var(--muted); }
nav a { margin-right:10px; color:var(--info); text-decoration:none; }
nav a.current { font-weight:700; color:#1f2328; }
main { padding:16px 24px 40px; max-width:1280px; }
.cards { display:flex; flex-wrap:wrap; gap:12px; margin-bottom:18px; }
.card { border:1px solid var(--line); border-radius:8px; padding:10px 14px; min-width:150px; }
.card b { display:block; font-size:22px; }
.card span { color:var(--muted); }
section.strategy { border:1px solid var(--line); border-radius:10px; padding:12px 16px;
  margin-bottom:18px; }
section.strategy h2 { font-size:16px; margin:0 0 10px; }
section.strategy h2 small { color:var(--muted); font-weight:400; margin-left:8px; }
.objective { display:grid; grid-template-columns: minmax(220px,2fr) minmax(240px,3fr) 130px;
  gap:4px 18px; padding:10px 0; border-top:1px solid var(--line); align-items:center; }
.objective:first-of-type { border-top:0; }
.objective .name { font-weight:600; }
.objective .meta { color:var(--muted); font-size:12px; }
.bar { position:relative; height:16px; background:#eaeef2; border-radius:8px; overflow:hidden; }
.bar .fill { position:absolute; left:0; top:0; bottom:0; border-radius:8px; }
.bar .expected { position:absolute; top:-2px; bottom:-2px; width:2px; background:#1f2328; }
.figures { font-size:12px; color:var(--muted); margin-top:3px; }
.pill { display:inline-block; padding:2px 9px; border-radius:999px; font-size:12px;
  font-weight:600; color:#fff; white-space:nowrap; }
.s-on_track,.s-achieved { background:var(--ok); } .s-at_risk { background:var(--warn); }
.s-off_track,.s-missed { background:var(--bad); } .s-not_started { background:var(--muted); }
.f-on_track,.f-achieved { background:var(--ok); } .f-at_risk { background:var(--warn); }
.f-off_track,.f-missed { background:var(--bad); } .f-not_started { background:var(--muted); }
.sev-critical { background:var(--bad); } .sev-warning { background:var(--warn); }
.sev-info { background:var(--info); }
.drift-note { font-size:12px; color:var(--bad); }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:6px 8px; border-top:1px solid var(--line);
  vertical-align:top; }
th { color:var(--muted); font-weight:600; font-size:12px; }
td.num, th.num { text-align:right; white-space:nowrap; }
h3 { font-size:14px; margin:14px 0 6px; }
.empty { color:var(--muted); padding:8px 0; }
.ack { color:var(--muted); font-size:12px; }
.status-note { font-size:12px; color:var(--warn); }
tr.incident td { background:var(--bg); border-top:2px solid var(--line); }
"""

SCRIPT = """
(function () {
  var live = document.getElementById('live');
  function refresh() {
    fetch('ui/live' + window.location.search, {cache: 'no-store'})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { live.innerHTML = html; } })
      .catch(function () {});
  }
  setInterval(refresh, REFRESH_MS);
})();
""".replace("REFRESH_MS", str(REFRESH_SECONDS * 1000))


def web_router() -> APIRouter:
    router = APIRouter(tags=["page"])

    @router.get("/", response_class=HTMLResponse, summary="Live objectives and drifts (HTML)")
    async def page(
        request: Request, workspace: Workspace = None, as_of: AsOf = None, known_at: KnownAt = None
    ) -> HTMLResponse:
        snapshot = await _snapshot(request, workspace, as_of, known_at)
        return HTMLResponse(render_page(snapshot, workspace or None))

    @router.get(
        "/ui/live", response_class=HTMLResponse, summary="The page's live part (HTML fragment)"
    )
    async def live(
        request: Request, workspace: Workspace = None, as_of: AsOf = None, known_at: KnownAt = None
    ) -> HTMLResponse:
        snapshot = await _snapshot(request, workspace, as_of, known_at)
        return HTMLResponse(render_live(snapshot, workspace or None))

    return router


async def _snapshot(
    request: Request, workspace: str | None, as_of: str | None, known_at: str | None
) -> Snapshot | None:
    """The live snapshot, or one as of a past moment (the read API's definition)."""
    holder = getattr(request.app.state, "projector", None) or {}
    projector = holder.get("projector")
    partitioned = bool(getattr(request.app.state, "partitioned", {}))
    if projector is None and not partitioned:
        return None
    if as_of is None and known_at is None and projector is not None:
        return projector.snapshot
    moment = parse_moment(request.app.state.clock(), as_of, known_at)
    if moment.live and projector is not None:
        return projector.snapshot
    return await past_snapshot(request.app.state.engine, moment, workspace or None)


# -- rendering -------------------------------------------------------------------------------


def render_page(snapshot: Snapshot | None, workspace: str | None) -> str:
    title = "truenorth · alignment" + (f" · {workspace}" if workspace else "")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title>"
        f"<noscript><meta http-equiv='refresh' content='{REFRESH_SECONDS + 2}'></noscript>"
        f"<style>{STYLE}</style></head><body>"
        f"<header><h1>truenorth · alignment</h1>{_nav(snapshot, workspace)}</header>"
        f"<main id='live'>{render_live(snapshot, workspace)}</main>"
        f"<script>{SCRIPT}</script></body></html>"
    )


def render_live(snapshot: Snapshot | None, workspace: str | None) -> str:
    if snapshot is None:
        return "<p class='empty'>The projection is loading…</p>"
    view = _View(snapshot, workspace)
    parts = [
        f"<p class='asof'>As of <b>{snapshot.at:%a %Y-%m-%d %H:%M} UTC</b>"
        f"{' · workspace ' + escape(workspace) if workspace else ' · all workspaces'}</p>",
        view.cards(),
    ]
    if not view.objectives and not view.drifts:
        parts.append(
            "<p class='empty'>No objectives yet: apply a strategy "
            "(<code>truenorth apply examples/…yaml</code>) or run <code>truenorth demo</code>."
            "</p>"
        )
    parts.extend(view.strategies())
    parts.append(view.drift_table())
    return "".join(parts)


def _workspaces(snapshot: Snapshot | None) -> list[str]:
    if snapshot is None:
        return []
    names = {o.workspace for o in snapshot.objectives}
    names |= {d.workspace for d in snapshot.drifts}
    names |= {s.workspace for s in snapshot.strategies}
    return sorted(names)


def _nav(snapshot: Snapshot | None, workspace: str | None) -> str:
    links = [f"<a href='./'{' class=current' if not workspace else ''}>all</a>"]
    for name in _workspaces(snapshot):
        current = " class=current" if name == workspace else ""
        links.append(f"<a href='?workspace={escape(name)}'{current}>{escape(name)}</a>")
    return "<nav>workspace: " + "".join(links) + "</nav>"


class _View:
    def __init__(self, snapshot: Snapshot, workspace: str | None) -> None:
        def keep(ws: str) -> bool:
            return workspace is None or ws == workspace

        self.snapshot = snapshot
        self.objectives = [o for o in snapshot.objectives if keep(o.workspace)]
        self.drifts = sorted(
            (d for d in snapshot.drifts if keep(d.workspace)),
            key=lambda d: (SEVERITY_RANK.get(d.drift.severity, 3), d.drift.kind, d.drift.drift_id),
        )
        self.channels = [c for c in snapshot.channels if keep(c.workspace)]
        self.aligned = [a for a in snapshot.aligned_spend if keep(a.workspace)]
        self.names = {(s.workspace, s.strategy_id): s.name for s in snapshot.strategies}
        self.by_objective: dict[tuple[str, str], list[OpenDrift]] = defaultdict(list)
        for drift in self.drifts:
            if drift.drift.objective_id:
                self.by_objective[(drift.workspace, drift.drift.objective_id)].append(drift)

    def cards(self) -> str:
        counts: dict[str, int] = defaultdict(int)
        for o in self.objectives:
            counts[o.status] += 1
        severities: dict[str, int] = defaultdict(int)
        for d in self.drifts:
            severities[d.drift.severity] += 1
        on_track = counts["on_track"] + counts["achieved"]
        behind = counts["at_risk"] + counts["off_track"] + counts["missed"]
        cards = [
            (str(len(self.objectives)), "objectives"),
            (str(on_track), "on track or achieved"),
            (str(behind), "at risk, off track or missed"),
            (
                str(len(self.drifts)),
                "open drifts"
                + (f" ({severities['critical']} critical)" if severities["critical"] else ""),
            ),
        ]
        ratio = _workspace_aligned(self.aligned)
        if ratio is not None:
            cards.append((_pct(ratio), "of spend tied to active objectives"))
        return (
            "<div class='cards'>"
            + "".join(
                f"<div class='card'><b>{escape(value)}</b><span>{escape(label)}</span></div>"
                for value, label in cards
            )
            + "</div>"
        )

    def strategies(self) -> Iterable[str]:
        groups: dict[tuple[str, str], list[ObjectiveSnapshot]] = defaultdict(list)
        for o in self.objectives:
            groups[(o.workspace, o.strategy_id)].append(o)
        channels: dict[tuple[str, str], list[ChannelShareSnapshot]] = defaultdict(list)
        for c in self.channels:
            channels[(c.workspace, c.strategy_id)].append(c)
        for key in sorted(set(groups) | set(channels)):
            workspace, strategy_id = key
            name = self.names.get(key) or strategy_id
            body = "".join(self.objective(o) for o in groups.get(key, []))
            yield (
                f"<section class='strategy' id='strategy-{escape(strategy_id)}'>"
                f"<h2>{escape(name)}<small>{escape(workspace)} / {escape(strategy_id)}</small>"
                f"</h2>{body or '<p class=empty>No active objectives.</p>'}"
                f"{_channel_table(channels.get(key, []))}</section>"
            )

    def objective(self, o: ObjectiveSnapshot) -> str:
        fill = min(max(o.progress, 0.0), 1.0) * 100
        expected = min(max(o.expected, 0.0), 1.0) * 100
        pace = "—" if o.pace is None else _fixed(o.pace)
        drifts = self.by_objective.get((o.workspace, o.objective_id), [])
        note = ""
        if drifts:
            kinds = ", ".join(sorted({d.drift.kind for d in drifts}))
            note = f"<div class='drift-note'>{len(drifts)} open drift(s): {escape(kinds)}</div>"
        return (
            f"<div class='objective' data-objective='{escape(o.objective_id)}'>"
            f"<div><div class='name'>{escape(o.name)}</div>"
            f"<div class='meta'>{escape(o.objective_id)} · {escape(o.kpi)} ({escape(o.aggregation)}"
            f", {escape(o.direction)}){' · ' + escape(o.owner) if o.owner else ''} · due "
            f"{_last_day(o.deadline)}</div>{note}</div>"
            f"<div><div class='bar' title='progress {_pct(o.progress)}, expected "
            f"{_pct(o.expected)}'>"
            f"<div class='fill f-{escape(o.status)}' style='width:{fill:.1f}%'></div>"
            f"<div class='expected' style='left:calc({expected:.1f}% - 1px)'></div></div>"
            f"<div class='figures'>{_num(o.actual)} of {_num(o.target)} {escape(o.kpi)} · "
            f"{_pct(o.progress)} done, {_pct(o.expected)} expected · pace {pace} · forecast "
            f"{_num(o.forecast)} ({_pct(o.forecast_attainment)} of target; 80 %: "
            f"{_pct(o.forecast_attainment_low)}–{_pct(o.forecast_attainment_high)}, "
            f"P(hit) {o.hit_probability:.2f}) · spend ${o.spend:,.0f}</div>"
            + (f"<div class='status-note'>{escape(o.status_note)}</div>" if o.status_note else "")
            + "</div>"
            f"<div><span class='pill s-{escape(o.status)}'>"
            f"{escape(STATUS_WORDS.get(o.status, o.status))}</span></div></div>"
        )

    def drift_table(self) -> str:
        """Open drifts grouped by incident (drifts with one cause), the most severe first: a
        header row naming the cause, then each facet with its explanation."""
        if not self.drifts:
            return "<h3>Open incidents</h3><p class='empty'>No open drift.</p>"
        incidents: dict[tuple[str, str], list[OpenDrift]] = defaultdict(list)
        for d in self.drifts:
            incidents[(d.workspace, d.drift.incident)].append(d)
        ordered = sorted(
            incidents.items(),
            key=lambda item: (
                min(SEVERITY_RANK.get(f.drift.severity, 3) for f in item[1]),
                item[0],
            ),
        )
        rows = [self._incident_rows(incident_id, facets) for (_, incident_id), facets in ordered]
        return (
            f"<h3>Open incidents ({len(incidents)}, {len(self.drifts)} drifts)</h3>"
            "<table class='drifts'><thead><tr><th>severity</th><th>kind</th><th>why</th>"
            f"<th class='num'>since (UTC)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )

    def _incident_rows(self, incident_id: str, facets: list[OpenDrift]) -> str:
        worst = min(facets, key=lambda f: SEVERITY_RANK.get(f.drift.severity, 3)).drift.severity
        cause = facets[0].drift.cause
        subject = " ".join(next(iter(sorted(cause.items())))) if cause else incident_id
        acknowledged = any(f.acknowledged for f in facets)
        ack = " <span class='ack'>(acknowledged)</span>" if acknowledged else ""
        since = min(f.opened_at for f in facets)
        head = (
            f"<tr class='incident' data-incident='{escape(incident_id)}'>"
            f"<td><span class='pill sev-{escape(worst)}'>{escape(worst)}</span></td>"
            f"<td colspan='2'><b>{escape(subject)}</b>{ack} · {len(facets)} drift(s): "
            f"{escape(', '.join(sorted({f.drift.kind for f in facets})))}</td>"
            f"<td class='num'>{since:%Y-%m-%d %H:%M}</td></tr>"
        )
        return head + "".join(self._facet_row(f) for f in facets)

    @staticmethod
    def _facet_row(d: OpenDrift) -> str:
        data = d.drift
        subject = [
            *([f"objective {data.objective_id}"] if data.objective_id else []),
            *([f"channel {data.channel}"] if data.channel else []),
            *([f"campaigns {', '.join(data.campaign_ids)}"] if data.campaign_ids else []),
        ]
        ack = " <span class='ack'>(acknowledged)</span>" if d.acknowledged else ""
        return (
            f"<tr class='drift' data-drift='{escape(data.drift_id)}'>"
            f"<td><span class='pill sev-{escape(data.severity)}'>{escape(data.severity)}"
            f"</span></td><td>{escape(data.kind)}{ack}"
            f"<div class='meta ack'>{escape(' · '.join(subject))}</div></td>"
            f"<td class='explanation'>{escape(data.explanation)}</td>"
            f"<td class='num'>{d.opened_at:%Y-%m-%d %H:%M}</td></tr>"
        )


def _channel_table(channels: list[ChannelShareSnapshot]) -> str:
    if not channels:
        return ""
    rows = []
    for c in sorted(channels, key=lambda c: (-c.spend, c.channel)):
        planned = "—" if c.planned_share is None else _pct(c.planned_share)
        allowed = "" if c.allowed else " <span class='pill sev-warning'>not allowed</span>"
        rows.append(
            f"<tr><td>{escape(c.channel)}{allowed}</td><td class='num'>${c.spend:,.0f}</td>"
            f"<td class='num'>{_pct(c.actual_share)}</td><td class='num'>{planned}</td></tr>"
        )
    period = next((c.period_id for c in channels if c.period_id), None)
    return (
        f"<h3>Channel mix{' · ' + escape(period) if period else ''}</h3><table><thead><tr>"
        "<th>channel</th><th class='num'>spend</th><th class='num'>actual share</th>"
        f"<th class='num'>planned share</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _workspace_aligned(aligned: list[AlignedSpendSnapshot]) -> float | None:
    totals = [a for a in aligned if a.strategy_id is None]
    spend = sum(a.total_spend for a in totals)
    return sum(a.aligned_spend for a in totals) / spend if spend > 0 else None


def _last_day(deadline: datetime) -> str:
    """An end-of-day deadline (midnight after the day) as that day: 2027-01-01 → 2026-12-31."""
    if (deadline.hour, deadline.minute, deadline.second, deadline.microsecond) == (0, 0, 0, 0):
        deadline -= timedelta(microseconds=1)
    return f"{deadline:%Y-%m-%d}"


def _pct(ratio: float) -> str:
    """A ratio as a whole percent, never "-0%"."""
    return f"{round(ratio * 100) + 0:d}%"


def _fixed(value: float) -> str:
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def _num(value: float) -> str:
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
