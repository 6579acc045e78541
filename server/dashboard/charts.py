"""The dashboard's charts: one Vega-Lite spec per chart, built from the ``Dashboard`` model with
its data inlined, so the served page and the static report draw the same pictures.

A chart with nothing to draw is None: the page shows the panel's note instead of empty axes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from .models import AcceptanceSeries, Dashboard, FixCount

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]
Spec = dict[str, JsonValue]
Row = dict[str, JsonValue]

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
"""Names the Vega-Lite version the specs are written for; nothing fetches it."""
WIDTH = "container"
OUTCOMES = (
    ("accepted", "accepted"),
    ("dismissed_false_positive", "dismissed: false positive"),
    ("dismissed_later", "dismissed: not now"),
    ("ignored", "ignored"),
    ("self_fixed", "self-fixed"),
)
PERCENT = {"format": ".0%"}
RULE_FINDINGS = "rule findings (no program)"
"""The "version" of the rules' findings (program_version "rule"), as its series is labelled."""
DAY = {"type": "temporal", "timeUnit": "utcyearmonthdate", "axis": {"format": "%b %d"}}
"""Days are ISO dates (UTC midnight to a browser): shown as days wherever the browser is."""


def chart_specs(dashboard: Dashboard) -> dict[str, Spec | None]:
    """Every chart of the page, by the id of its container."""
    return {
        "acceptance-over-time": acceptance_over_time(dashboard),
        "acceptance-by-category": acceptance_by_category(dashboard),
        "rule-outcomes": rule_outcomes(dashboard),
        "version-timeline": version_timeline(dashboard),
        "ab-arms": ab_arms(dashboard),
        "usage-calls": usage_per_model(dashboard, "calls", "LM calls"),
        "usage-tokens": usage_tokens(dashboard),
        "usage-cost": usage_per_model(dashboard, "cost_usd", "cost (USD)"),
        "usage-health": usage_health(dashboard),
        "usage-latency": usage_latency(dashboard),
        "job-progress": job_progress(dashboard),
        "fix-loop-days": fix_loop_days(dashboard),
        "fix-loop-rules": fix_loop_rules(dashboard),
    }


def _spec(rows: Sequence[Row], **body: JsonValue) -> Spec | None:
    if not rows:
        return None
    return {
        "$schema": SCHEMA,
        "width": WIDTH,
        "height": body.pop("height", 220),
        "data": {"values": list(rows)},
        "autosize": {"type": "fit-x", "contains": "padding"},
        "config": {"view": {"stroke": None}, "axis": {"labelLimit": 220}},
        **body,
    }


def short(version: str) -> str:
    """``analyze@c112ca4d53f0`` as ``analyze@c112ca4d``: enough to tell versions apart."""
    kind, at, digest = version.partition("@")
    return f"{kind}@{digest[:8]}" if at else version[:12]


def _band_height(bands: int, each: int) -> int:
    """A fixed height for ``bands`` bars (a step height would drop the fit to the width)."""
    return max(bands, 1) * each


def _day(value: date | datetime) -> str:
    return value.isoformat()


def _series_rows(series: Iterable[AcceptanceSeries], prefix: str) -> list[Row]:
    return [
        {
            "series": RULE_FINDINGS if prefix and one.key == "rule" else f"{prefix}{one.key}",
            "period": _day(point.period),
            "rate": point.rate,
            "accepted": point.accepted,
            "verdicts": point.verdicts,
        }
        for one in series
        for point in one.points
        if point.rate is not None
    ]


_RATE_TOOLTIP: list[JsonValue] = [
    {"field": "series", "title": "series"},
    {"field": "period", "type": "temporal", "timeUnit": "utcyearmonthdate", "title": "from"},
    {"field": "rate", "type": "quantitative", "format": ".0%", "title": "acceptance"},
    {"field": "accepted", "type": "quantitative"},
    {"field": "verdicts", "type": "quantitative"},
]


def acceptance_over_time(dashboard: Dashboard) -> Spec | None:
    """Acceptance per period, overall and per program version, with activations as rules."""
    panel = dashboard.acceptance
    overall = AcceptanceSeries(
        key="all findings", points=panel.overall, accepted=0, verdicts=0, rate=None
    )
    rows = _series_rows([overall], "") + _series_rows(panel.by_version, "version ")
    marks = [
        {
            "date": _day(one.date),
            "label": short(one.version) if one.version else f"{one.kind}@builtin",
            "exact": "activated" if one.exact else "created (activated at once)",
        }
        for one in panel.activations
    ]
    if not rows:
        return None
    layers: list[JsonValue] = [
        {
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {**DAY, "field": "period", "title": f"{panel.bucket} from"},
                "y": {
                    "field": "rate",
                    "type": "quantitative",
                    "title": "acceptance",
                    "scale": {"domain": [0, 1]},
                    "axis": PERCENT,
                },
                "color": {"field": "series", "type": "nominal", "title": None},
                "tooltip": _RATE_TOOLTIP,
            },
        }
    ]
    if marks:
        activation = {"values": marks}
        layers += [
            {
                "data": activation,
                "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#888"},
                "encoding": {
                    "x": {**DAY, "field": "date"},
                    "tooltip": [
                        {"field": "label", "title": "version"},
                        {"field": "date", "type": "temporal", "timeUnit": "utcyearmonthdate"},
                        {"field": "exact", "title": "date is"},
                    ],
                },
            },
            {
                "data": activation,
                "mark": {"type": "text", "angle": 270, "align": "left", "dx": -4, "dy": -4, "y": 0},
                "encoding": {
                    "x": {**DAY, "field": "date"},
                    "text": {"field": "label"},
                },
            },
        ]
    return _spec(rows, layer=layers)


def acceptance_by_category(dashboard: Dashboard) -> Spec | None:
    """Acceptance per period of each rule category."""
    rows = _series_rows(dashboard.acceptance.by_category, "")
    return _spec(
        rows,
        height=180,
        mark={"type": "line", "point": True},
        encoding={
            "x": {**DAY, "field": "period", "title": None},
            "y": {
                "field": "rate",
                "type": "quantitative",
                "title": "acceptance",
                "scale": {"domain": [0, 1]},
                "axis": PERCENT,
            },
            "color": {"field": "series", "type": "nominal", "title": "category"},
            "tooltip": _RATE_TOOLTIP,
        },
    )


def rule_outcomes(dashboard: Dashboard) -> Spec | None:
    """What users did with each rule's findings, most dismissed rule on top."""
    order = [row.rule for row in dashboard.rules.rules]
    rows: list[Row] = [
        {"rule": row.rule, "outcome": label, "count": getattr(row, field)}
        for field, label in OUTCOMES
        for row in dashboard.rules.rules
        if getattr(row, field)
    ]
    return _spec(
        rows,
        height=_band_height(len(order), 20),
        mark="bar",
        encoding={
            "y": {"field": "rule", "type": "nominal", "sort": order, "title": None},
            "x": {"field": "count", "type": "quantitative", "title": "findings"},
            "color": {
                "field": "outcome",
                "type": "nominal",
                "sort": [label for _, label in OUTCOMES],
                "scale": {
                    "domain": [label for _, label in OUTCOMES],
                    "range": ["#2e7d32", "#c62828", "#ef8f00", "#9e9e9e", "#1565c0"],
                },
                "title": None,
            },
            "order": {"field": "outcome"},
            "tooltip": [{"field": "rule"}, {"field": "outcome"}, {"field": "count"}],
        },
    )


def version_timeline(dashboard: Dashboard) -> Spec | None:
    """Each saved version in the order it was created: its run's dev score before (hollow) and
    after (filled), joined by a rule; click a version for its prompt (the page listens to the
    ``pick`` selection)."""
    rows: list[Row] = [
        {
            "version": entry.version,
            "label": f"{short(entry.version)} ({entry.created.strftime('%b %d')})",
            "kind": kind.kind,
            "created": entry.created.isoformat(),
            "before": entry.dev_before,
            "after": entry.dev_after,
            "optimizer": entry.optimizer,
            "dataset": f"{entry.train_size} train / {entry.dev_size} dev",
            "state": "active" if entry.active else "was active" if entry.activated else "saved",
        }
        for kind in dashboard.versions.kinds
        for entry in sorted(kind.versions, key=lambda entry: entry.created)
    ]
    scored = sorted(
        (row for row in rows if row["after"] is not None), key=lambda row: str(row["created"])
    )
    if not scored:
        return None
    tooltip: list[JsonValue] = [
        {"field": "version"},
        {"field": "created", "type": "temporal", "timeUnit": "yearmonthdatehoursminutes"},
        {"field": "optimizer"},
        {"field": "dataset"},
        {"field": "before", "title": "dev before", "format": ".2f"},
        {"field": "after", "title": "dev after", "format": ".2f"},
        {"field": "state"},
    ]
    order = [row["label"] for row in scored]
    x = {
        "field": "label",
        "type": "nominal",
        "sort": order,
        "title": None,
        "axis": {"labelAngle": 0},
    }
    score = {"type": "quantitative", "title": "dev score", "scale": {"zero": False}}
    return _spec(
        scored,
        height=240,
        layer=[
            {
                "mark": {"type": "rule", "strokeWidth": 2, "opacity": 0.6},
                "encoding": {
                    "x": x,
                    "y": {"field": "before", **score},
                    "y2": {"field": "after"},
                    "color": {"field": "kind", "type": "nominal"},
                },
            },
            {
                "mark": {"type": "point", "size": 90, "filled": False},
                "encoding": {
                    "x": x,
                    "y": {"field": "before", **score},
                    "color": {"field": "kind", "type": "nominal"},
                    "tooltip": tooltip,
                },
            },
            {
                "params": [
                    {
                        "name": "pick",
                        "select": {"type": "point", "fields": ["version"], "on": "click"},
                    }
                ],
                "mark": {"type": "point", "filled": True, "size": 140, "cursor": "pointer"},
                "encoding": {
                    "x": x,
                    "y": {"field": "after", **score},
                    "color": {"field": "kind", "type": "nominal"},
                    "shape": {"field": "state", "type": "nominal", "title": None},
                    "tooltip": tooltip,
                },
            },
        ],
    )


def ab_arms(dashboard: Dashboard) -> Spec | None:
    """Acceptance of the two versions over the same period, each with its 95% interval."""
    panel = dashboard.ab
    rows: list[Row] = [
        {
            "arm": f"{name}: {short(arm.version)}",
            "rate": arm.rate,
            "low": arm.low,
            "high": arm.high,
            "counts": f"{arm.accepted} of {arm.verdicts}",
        }
        for name, arm in (("A", panel.a), ("B", panel.b))
        if arm is not None and arm.rate is not None
    ]
    y = {"field": "arm", "type": "nominal", "title": None}
    percent = {"scale": {"domain": [0, 1]}, "axis": PERCENT}
    return _spec(
        rows,
        height=_band_height(len(rows), 40),
        layer=[
            {
                "mark": {"type": "rule", "strokeWidth": 2},
                "encoding": {
                    "y": y,
                    "x": {"field": "low", "type": "quantitative", "title": "acceptance", **percent},
                    "x2": {"field": "high"},
                },
            },
            {
                "mark": {"type": "point", "filled": True, "size": 140},
                "encoding": {
                    "y": y,
                    "x": {"field": "rate", "type": "quantitative"},
                    "color": {"field": "arm", "type": "nominal", "legend": None},
                    "tooltip": [
                        {"field": "arm"},
                        {"field": "rate", "format": ".1%"},
                        {"field": "low", "title": "95% low", "format": ".1%"},
                        {"field": "high", "title": "95% high", "format": ".1%"},
                        {"field": "counts", "title": "accepted"},
                    ],
                },
            },
        ],
    )


def usage_per_model(dashboard: Dashboard, field: str, title: str) -> Spec | None:
    """One usage measure per day, stacked by model."""
    rows: list[Row] = [
        {"day": _day(row.day), "model": row.model, "value": getattr(row, field)}
        for row in dashboard.usage.by_model
    ]
    return _spec(
        rows,
        height=180,
        mark="bar",
        encoding={
            "x": {"field": "day", "type": "ordinal", "timeUnit": "utcyearmonthdate", "title": None},
            "y": {"field": "value", "type": "quantitative", "title": title},
            "color": {"field": "model", "type": "nominal"},
            "tooltip": [{"field": "day"}, {"field": "model"}, {"field": "value", "title": title}],
        },
    )


def usage_tokens(dashboard: Dashboard) -> Spec | None:
    """Prompt and completion tokens per day and model."""
    rows: list[Row] = [
        {"day": _day(row.day), "model": row.model, "part": part, "tokens": tokens}
        for row in dashboard.usage.by_model
        for part, tokens in (("prompt", row.prompt_tokens), ("completion", row.completion_tokens))
    ]
    return _spec(
        rows,
        height=180,
        mark="bar",
        encoding={
            "x": {"field": "day", "type": "ordinal", "timeUnit": "utcyearmonthdate", "title": None},
            "y": {"field": "tokens", "type": "quantitative", "title": "tokens"},
            "color": {"field": "model", "type": "nominal"},
            "opacity": {
                "field": "part",
                "type": "ordinal",
                "sort": ["prompt", "completion"],
                "scale": {"domain": ["prompt", "completion"], "range": [1, 0.55]},
            },
            "tooltip": [
                {"field": "day"},
                {"field": "model"},
                {"field": "part"},
                {"field": "tokens"},
            ],
        },
    )


def usage_health(dashboard: Dashboard) -> Spec | None:
    """Cache hit rate per day as a line; circuit-breaker openings as bars beneath it."""
    rows: list[Row] = [
        {
            "day": _day(day.day),
            "cache_hit_rate": day.cache_hit_rate,
            "breaker_openings": day.breaker_openings,
            "errors": day.errors,
        }
        for day in dashboard.usage.days
    ]
    x = {"field": "day", "type": "ordinal", "timeUnit": "utcyearmonthdate", "title": None}
    return _spec(
        rows,
        height=180,
        layer=[
            {
                "mark": {"type": "bar", "color": "#c62828", "opacity": 0.5},
                "encoding": {
                    "x": x,
                    "y": {
                        "field": "breaker_openings",
                        "type": "quantitative",
                        "title": "breaker openings",
                        "axis": {"tickMinStep": 1},
                    },
                    "tooltip": [
                        {"field": "day"},
                        {"field": "breaker_openings"},
                        {"field": "errors"},
                    ],
                },
            },
            {
                "mark": {"type": "line", "point": True, "color": "#1565c0"},
                "encoding": {
                    "x": x,
                    "y": {
                        "field": "cache_hit_rate",
                        "type": "quantitative",
                        "title": "cache hit rate",
                        "scale": {"domain": [0, 1]},
                        "axis": PERCENT,
                    },
                    "tooltip": [{"field": "day"}, {"field": "cache_hit_rate", "format": ".0%"}],
                },
            },
        ],
        resolve={"scale": {"y": "independent"}},
    )


def usage_latency(dashboard: Dashboard) -> Spec | None:
    """Latency per day: the median and the 95th percentile."""
    rows: list[Row] = [
        {"day": _day(day.day), "percentile": name, "seconds": seconds}
        for day in dashboard.usage.days
        for name, seconds in (("p50", day.latency_p50_s), ("p95", day.latency_p95_s))
        if seconds is not None
    ]
    return _spec(
        rows,
        height=180,
        mark={"type": "line", "point": True},
        encoding={
            "x": {"field": "day", "type": "ordinal", "timeUnit": "utcyearmonthdate", "title": None},
            "y": {"field": "seconds", "type": "quantitative", "title": "latency (s)"},
            "color": {"field": "percentile", "type": "nominal", "title": None},
            "tooltip": [
                {"field": "day"},
                {"field": "percentile"},
                {"field": "seconds", "format": ".2f"},
            ],
        },
    )


def job_progress(dashboard: Dashboard) -> Spec | None:
    """How far each optimize or learn run got, coloured by how it ended."""
    rows: list[Row] = [
        {
            "run": f"{run.command} {run.started.strftime('%Y-%m-%d %H:%M')} {run.id[:6]}",
            "progress": 1.0
            if run.progress is None and run.status == "succeeded"
            else run.progress or 0.0,
            "status": run.status,
            "stage": run.stage or "",
        }
        for run in dashboard.jobs.runs
    ]
    return _spec(
        rows,
        height=_band_height(len(rows), 22),
        mark="bar",
        encoding={
            "y": {"field": "run", "type": "nominal", "sort": None, "title": None},
            "x": {
                "field": "progress",
                "type": "quantitative",
                "title": "progress",
                "scale": {"domain": [0, 1]},
                "axis": PERCENT,
            },
            "color": {
                "field": "status",
                "type": "nominal",
                "scale": {
                    "domain": ["running", "succeeded", "failed", "interrupted"],
                    "range": ["#1565c0", "#2e7d32", "#c62828", "#9e9e9e"],
                },
                "title": None,
            },
            "tooltip": [
                {"field": "run"},
                {"field": "status"},
                {"field": "stage"},
                {"field": "progress", "format": ".0%"},
            ],
        },
    )


def fix_loop_days(dashboard: Dashboard) -> Spec | None:
    """Fix attempts per day, those the tests passed and those they failed."""
    rows = _fix_rows(dashboard.fix_loop.by_day)
    return _spec(
        rows,
        height=160,
        mark="bar",
        encoding={
            "x": {"field": "key", "type": "ordinal", "timeUnit": "utcyearmonthdate", "title": None},
            "y": {"field": "count", "type": "quantitative", "title": "attempts"},
            "color": _FIX_COLOUR,
            "tooltip": [{"field": "key", "title": "day"}, {"field": "result"}, {"field": "count"}],
        },
    )


def fix_loop_rules(dashboard: Dashboard) -> Spec | None:
    """Fix attempts per rule, those the tests passed and those they failed."""
    rows = _fix_rows(dashboard.fix_loop.by_rule)
    return _spec(
        rows,
        height=_band_height(len(dashboard.fix_loop.by_rule), 20),
        mark="bar",
        encoding={
            "y": {"field": "key", "type": "nominal", "title": None},
            "x": {"field": "count", "type": "quantitative", "title": "attempts"},
            "color": _FIX_COLOUR,
            "tooltip": [{"field": "key", "title": "rule"}, {"field": "result"}, {"field": "count"}],
        },
    )


_FIX_COLOUR: JsonValue = {
    "field": "result",
    "type": "nominal",
    "scale": {"domain": ["passed", "failed"], "range": ["#2e7d32", "#c62828"]},
    "title": None,
}


def _fix_rows(counts: Iterable[FixCount]) -> list[Row]:
    return [
        {"key": count.key, "result": result, "count": number}
        for count in counts
        for result, number in (("passed", count.passed), ("failed", count.failed))
        if number
    ]
