"""`ledger report contract ID --html FILE`: one self-contained audit page.

The page holds the contract's timeline (each line pending, in service, suspended,
terminated), its balance over time as a chart, its bills and its full event history.
Jinja2 renders the HTML (autoescaped); Plotly draws the charts with its JavaScript
inlined, so the file opens offline. Figures come from `ledger.domain.views`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape
from plotly.offline import get_plotlyjs

from ledger.domain import views
from ledger.domain.base import LedgerEvent
from ledger.domain.state import ContractState

STATUS_COLOURS = {"pending": "#d0d0d0", "active": "#2e8b57", "suspended": "#e8a33d",
                  "terminated": "#b22222"}


def status_segments(s: ContractState, end: date) -> list[dict[str, Any]]:
    """Per line, maximal runs of days with the same status, from signing to `end`."""
    out = []
    for line_id in s.lines:
        d, run_start, current = s.signed_on, s.signed_on, None
        while d <= end:
            status = views.line_status(s, line_id, d)
            if status != current:
                if current is not None:
                    out.append({"line_id": line_id, "status": current,
                                "start": run_start.isoformat(), "end": d.isoformat()})
                current, run_start = status, d
            d += timedelta(days=1)
        if current is not None:
            out.append({"line_id": line_id, "status": current, "start": run_start.isoformat(),
                        "end": (end + timedelta(days=1)).isoformat()})
    return out


def balance_series(s: ContractState, end: date) -> list[tuple[str, str]]:
    """(date, balance) at the end of every day the balance changed (views.balance)."""
    points = []
    last = None
    d = s.signed_on
    while d <= end:
        value = views.balance(s, d)
        if value != last:
            points.append((d.isoformat(), str(value)))
            last = value
        d += timedelta(days=1)
    points.append((end.isoformat(), str(last)))
    return points


def _timeline_figure(segments: list[dict[str, Any]], lines: list[str]) -> go.Figure:
    fig = go.Figure()
    shown: set[str] = set()
    for seg in segments:
        ms = (date.fromisoformat(seg["end"]) - date.fromisoformat(seg["start"])).days * 86400000
        fig.add_trace(go.Bar(
            y=[seg["line_id"]], x=[ms], base=[seg["start"]], orientation="h",
            marker_color=STATUS_COLOURS[seg["status"]], name=seg["status"],
            legendgroup=seg["status"], showlegend=seg["status"] not in shown,
            hovertext=f"{seg['line_id']} {seg['status']} {seg['start']}..{seg['end']}",
            hoverinfo="text"))
        shown.add(seg["status"])
    fig.update_layout(barmode="overlay", title="Lines over time", xaxis_type="date",
                      yaxis={"categoryorder": "array", "categoryarray": lines[::-1]},
                      height=120 + 40 * len(lines), margin={"l": 80, "r": 20, "t": 40, "b": 30})
    return fig


def _balance_figure(series: list[tuple[str, str]]) -> go.Figure:
    fig = go.Figure(go.Scatter(x=[d for d, _ in series], y=[v for _, v in series],
                               mode="lines+markers", line_shape="hv", name="balance"))
    fig.update_layout(title="Balance over time (CNY; negative: the customer owes)",
                      height=320, margin={"l": 80, "r": 20, "t": 40, "b": 30})
    # The values stay exact decimal strings in the page; a linear axis makes plotly.js
    # read them as numbers (it would otherwise draw them as unordered categories).
    fig.update_yaxes(type="linear", tickformat=",.2f")
    return fig


def _figure_json(fig: go.Figure) -> str:
    return fig.to_json()


def render_contract_report(s: ContractState, events: list[LedgerEvent], as_of: date,
                           event_records: list[dict[str, Any]]) -> str:
    """The page as HTML text. `event_records` are the CLI's history records."""
    segments = status_segments(s, as_of)
    series = balance_series(s, as_of)
    env = Environment(loader=PackageLoader("ledger.audit", "templates"),
                      autoescape=select_autoescape(["html"]))
    template = env.get_template("contract_report.html")
    return template.render(
        status=views.status_view(s, as_of), bills=views.bills_issued(s, as_of),
        months=[views.bill_view(s, date.fromisoformat(m + "-01"), as_of)
                for m in sorted({x.service_month for x in s.charges})],
        segments=segments, balance=series, events=event_records,
        disputes=[d.model_dump(mode="json") for d in s.disputes],
        timeline_json=_figure_json(_timeline_figure(segments, list(s.lines))),
        balance_json=_figure_json(_balance_figure(series)),
        plotly_js=get_plotlyjs(), data_json=orjson.dumps(
            {"segments": segments, "balance": series}).decode(),
    )
