"""The dashboard as one HTML page: the panels' numbers and tables rendered here, the charts'
Vega-Lite specs and the versions' prompts inlined as JSON for ``static/dashboard.js``.

``served_page`` links the scripts (the web app serves ``static/``); ``report_page`` inlines them,
so the report is one file that opens with no network. Every text from the stores is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from html import escape
from pathlib import Path

from .charts import JsonValue, chart_specs, short
from .models import Dashboard, IgnoreSuggestion, JobRun, RuleRow, UserRow, VersionEntry

STATIC = Path(__file__).parent / "static"
SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "dashboard.js")
"""In load order: vega-embed expects vega and vega-lite as globals."""
STYLE = "dashboard.css"

SERVED_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none';"
    " frame-ancestors 'none'"
)
"""Vega compiles its expressions with ``Function`` (hence unsafe-eval); vega-embed adds a style
element. Nothing is fetched from anywhere but the dashboard itself."""
REPORT_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline';"
    " img-src data:; base-uri 'none'; form-action 'none'"
)
"""The static report may fetch nothing at all: a chart that tried would fail in the open."""


def served_page(dashboard: Dashboard, *, query: str = "") -> str:
    """The page the web app serves; ``query`` (``?token=...``) is added to each script's URL."""
    scripts = "\n".join(
        f'<script src="/static/{name}{escape(query)}"></script>' for name in SCRIPTS
    )
    return _page(dashboard, scripts=scripts, policy=None)


def report_page(dashboard: Dashboard) -> str:
    """The same page as one self-contained file: scripts, style and data inlined."""
    scripts = "\n".join(f"<script>{_inline_script(name)}</script>" for name in SCRIPTS)
    return _page(dashboard, scripts=scripts, policy=REPORT_POLICY)


def _inline_script(name: str) -> str:
    # "</script" inside a script would end it early; "<\/" means the same to JavaScript.
    return (STATIC / name).read_text(encoding="utf-8").replace("</script", "<\\/script")


def _json_for_html(value: JsonValue) -> str:
    """JSON that cannot close its script element or open a comment."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page_data(dashboard: Dashboard) -> dict[str, JsonValue]:
    """What the page's script reads: the chart specs by container id, and each version's prompt
    and diff by version id (shown when the version is picked)."""
    versions: dict[str, JsonValue] = {
        entry.version: {
            "kind": kind.kind,
            "version": entry.version,
            "parent": entry.parent,
            "prompt": entry.prompt,
            "diff": entry.diff,
            "problem": entry.prompt_problem,
        }
        for kind in dashboard.versions.kinds
        for entry in kind.versions
    }
    charts: dict[str, JsonValue] = dict(chart_specs(dashboard))
    return {"charts": charts, "versions": versions}


def _page(dashboard: Dashboard, *, scripts: str, policy: str | None) -> str:
    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy}">' if policy else ""
    style = (STATIC / STYLE).read_text(encoding="utf-8")
    data = _json_for_html(page_data(dashboard))
    body = "\n".join(
        [
            _header(dashboard),
            _acceptance(dashboard),
            _users(dashboard),
            _rules(dashboard),
            _versions(dashboard),
            _ab(dashboard),
            _usage(dashboard),
            _jobs(dashboard),
            _fix_loop(dashboard),
        ]
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
{meta}
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>dspy-lsp mission control</title>
<style>{style}</style>
</head>
<body>
{body}
<script type="application/json" id="dashboard-data">{data}</script>
{scripts}
</body>
</html>
"""


# -- pieces ---------------------------------------------------------------------------------
def _chart(chart_id: str, label: str) -> str:
    return f'<figure class="chart" id="{chart_id}" aria-label="{escape(label)}"></figure>'


def _note(note: str | None) -> str:
    return f'<p class="note">{escape(note)}</p>' if note else ""


def _section(anchor: str, title: str, question: str, *parts: str) -> str:
    inner = "\n".join(part for part in parts if part)
    return (
        f'<section id="{anchor}"><h2>{escape(title)}</h2>'
        f'<p class="question">{escape(question)}</p>\n{inner}</section>'
    )


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return ""
    header = "".join(f"<th>{escape(cell)}</th>" for cell in head)
    return f'<table class="{cls}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _when(value: datetime | None) -> str:
    return "—" if value is None else escape(value.strftime("%Y-%m-%d %H:%M"))


def _header(dashboard: Dashboard) -> str:
    sources = dashboard.sources
    facts = [
        ("project", sources.project_root or "none found (the current directory)"),
        ("feedback", sources.feedback_store or "no feedback recorded yet"),
        ("programs", sources.programs_dir),
        ("telemetry", sources.telemetry or "no LM calls recorded yet"),
    ]
    since = f" since {dashboard.since.isoformat()}" if dashboard.since else ""
    listed = "".join(
        f"<dt>{name}</dt><dd><code>{escape(value)}</code></dd>" for name, value in facts
    )
    warnings = "".join(f'<p class="warning">{escape(w)}</p>' for w in sources.warnings)
    nav = "".join(
        f'<a href="#{anchor}">{label}</a>'
        for anchor, label in (
            ("acceptance", "acceptance"),
            ("users", "users"),
            ("rules", "rules"),
            ("versions", "versions"),
            ("ab", "A/B"),
            ("usage", "LM usage"),
            ("jobs", "jobs"),
            ("fix-loop", "fix loop"),
        )
    )
    return (
        f"<header><h1>dspy-lsp mission control</h1>"
        f'<p class="generated">generated {_when(dashboard.generated)}{escape(since)}; read only</p>'
        f'<dl class="sources">{listed}</dl>{warnings}<nav>{nav}</nav></header>'
    )


def _acceptance(dashboard: Dashboard) -> str:
    panel = dashboard.acceptance
    rows = [
        [escape(series.key), _rate(series.rate), str(series.accepted), str(series.verdicts)]
        for series in panel.by_version
    ]
    return _section(
        "acceptance",
        "Acceptance over time",
        "Is the analyzer getting better? The share of verdicts that accepted a finding, per"
        f" {panel.bucket}, overall and per program version; dashed lines mark when a version"
        " became active.",
        _note(panel.note),
        _chart("acceptance-over-time", "acceptance rate over time"),
        _table(("version", "acceptance", "accepted", "verdicts"), rows, "numbers"),
        "<h3>Per rule category</h3>",
        _chart("acceptance-by-category", "acceptance rate per category"),
    )


def _user_row(row: UserRow) -> list[str]:
    return [
        escape(row.user),
        str(row.verdicts),
        str(row.accepted),
        str(row.dismissed),
        _rate(row.acceptance_rate),
        _rate(row.dismissal_rate),
    ]


def _users(dashboard: Dashboard) -> str:
    panel = dashboard.users
    whose = "every developer of the project (the team store)" if panel.team else "this store"
    return _section(
        "users",
        "Acceptance per user",
        "Who accepts the findings, and who dismisses them? Verdicts per user of"
        f" {whose}, most verdicts first.",
        _note(panel.note),
        _table(
            ("user", "verdicts", "accepted", "dismissed", "acceptance", "dismissal"),
            (_user_row(row) for row in panel.users),
            "numbers",
        ),
    )


def _suggestion(suggestion: IgnoreSuggestion | None) -> str:
    if suggestion is None:
        return ""
    return (
        '<div class="suggestion"><h3>Most dismissed: consider ignoring</h3>'
        f"<p>{escape(suggestion.reason)}</p>"
        f"<p>In <code>{escape(suggestion.file)}</code>, under"
        f" <code>{escape(suggestion.section)}</code>:</p>"
        f'<pre class="copy" id="ignore-line">{escape(suggestion.line)}</pre>'
        '<button type="button" data-copy="ignore-line">copy</button></div>'
    )


def _rule_row(row: RuleRow) -> list[str]:
    return [
        f"<code>{escape(row.rule)}</code>",
        escape(row.category or "—"),
        str(row.shown),
        str(row.accepted),
        str(row.dismissed_false_positive),
        str(row.dismissed_later),
        str(row.ignored),
        str(row.self_fixed),
        _rate(row.acceptance_rate),
        _rate(row.dismissal_rate),
    ]


def _rules(dashboard: Dashboard) -> str:
    panel = dashboard.rules
    head = (
        "rule",
        "category",
        "shown",
        "accepted",
        "false positive",
        "not now",
        "ignored",
        "self-fixed",
        "acceptance",
        "dismissal",
    )
    return _section(
        "rules",
        "Rules: what users did with findings",
        "Which rules do users dismiss? Findings shown versus accepted, dismissed, ignored and"
        " fixed by hand, most dismissed first.",
        _note(panel.note),
        _suggestion(panel.suggestion),
        _chart("rule-outcomes", "outcomes per rule"),
        _table(head, (_rule_row(row) for row in panel.rules), "numbers"),
    )


def _version_row(kind: str, entry: VersionEntry) -> list[str]:
    state = "active" if entry.active else "was active" if entry.activated else ""
    return [
        f'<button type="button" data-version="{escape(entry.version)}">'
        f"{escape(short(entry.version))}</button>",
        escape(kind),
        _when(entry.created),
        escape(entry.optimizer),
        f"{entry.train_size} / {entry.dev_size}",
        _score(entry.dev_before),
        _score(entry.dev_after),
        escape(state),
        escape(entry.note),
    ]


def _versions(dashboard: Dashboard) -> str:
    panel = dashboard.versions
    rows = [_version_row(kind.kind, entry) for kind in panel.kinds for entry in kind.versions]
    problems = "".join(
        f'<p class="warning">{escape(problem)}</p>'
        for kind in panel.kinds
        for problem in kind.problems
    )
    active = "".join(
        f"<li>{escape(kind.kind)}: <code>{escape(kind.active or kind.active_source)}</code></li>"
        for kind in panel.kinds
    )
    head = ("version", "kind", "created", "optimizer", "train / dev", "dev before", "dev after")
    return _section(
        "versions",
        "Program versions",
        "What did each optimize run change? Every saved version with its run's dev score before"
        " and after; click a point or a version for its exact prompt and its diff from its parent.",
        _note(panel.note),
        f'<ul class="active">{active}</ul>' if active else "",
        problems,
        _chart("version-timeline", "program versions over time with dev scores"),
        _table((*head, "state", "note"), rows, "numbers"),
        '<div id="version-detail" hidden><h3 id="version-title"></h3>'
        '<p class="warning" id="version-problem" hidden></p>'
        '<h4>Prompt</h4><pre id="version-prompt"></pre>'
        '<h4>Diff from its parent</h4><pre id="version-diff"></pre></div>',
    )


def _ab(dashboard: Dashboard) -> str:
    panel = dashboard.ab
    rows = [
        [
            name,
            f"<code>{escape(short(arm.version))}</code>",
            str(arm.accepted),
            str(arm.verdicts),
            _rate(arm.rate),
            f"{_rate(arm.low)} to {_rate(arm.high)}",
        ]
        for name, arm in (("A", panel.a), ("B", panel.b))
        if arm is not None
    ]
    period = ""
    if panel.since or panel.until:
        start = panel.since.isoformat() if panel.since else "the first verdict"
        end = (panel.until - timedelta(days=1)).isoformat() if panel.until else "now"
        period = f"<p>Both versions over the same period: {escape(start)} to {escape(end)}.</p>"
    return _section(
        "ab",
        "A/B: two versions compared",
        "Is the new version better, or is the difference noise? Acceptance of both versions over"
        " the same period, with 95% confidence intervals.",
        _note(panel.note),
        f'<p class="verdict" data-verdict="{escape(panel.verdict)}">{escape(panel.summary)}</p>',
        period,
        _chart("ab-arms", "acceptance of the two versions with confidence intervals"),
        _table(
            ("arm", "version", "accepted", "verdicts", "acceptance", "95% interval"),
            rows,
            "numbers",
        ),
    )


def _usage(dashboard: Dashboard) -> str:
    panel = dashboard.usage
    totals = panel.totals
    facts = [
        ("calls", str(totals.calls)),
        ("cache hits", f"{totals.cache_hits} ({_rate(totals.cache_hit_rate)})"),
        ("errors", str(totals.errors)),
        ("tokens", f"{totals.prompt_tokens} prompt + {totals.completion_tokens} completion"),
        ("cost", f"${totals.cost_usd:.4f}"),
        ("breaker openings", str(totals.breaker_openings)),
    ]
    listed = "".join(f"<dt>{name}</dt><dd>{escape(value)}</dd>" for name, value in facts)
    return _section(
        "usage",
        "LM usage",
        "What does the LM cost, and is it healthy? Calls, tokens and cost per day and model,"
        " cache hit rate, latency p50/p95 and circuit-breaker openings.",
        _note(panel.note),
        f'<dl class="totals">{listed}</dl>',
        '<div class="grid">',
        _chart("usage-calls", "LM calls per day and model"),
        _chart("usage-tokens", "tokens per day and model"),
        _chart("usage-cost", "cost per day and model"),
        _chart("usage-health", "cache hit rate and breaker openings per day"),
        _chart("usage-latency", "latency p50 and p95 per day"),
        "</div>",
    )


def _run(run: JobRun) -> str:
    changed = ", ".join(short(version) for version in run.saved.values())
    activated = ", ".join(short(version) for version in run.activated.values())
    summary = (
        f"<code>{escape(run.command)}</code> {escape(run.program or '')} · {_when(run.started)} ·"
        f' <span class="status {escape(run.status)}">{escape(run.status)}</span>'
        + (f" · {escape(run.stage)}" if run.stage else "")
        + (f" · {run.progress:.0%}" if run.progress is not None else "")
        + (f" · exit {run.exit_code}" if run.exit_code is not None else "")
    )
    details = "".join(
        f"<p>{label}: {escape(text)}</p>"
        for label, text in (("saved", changed), ("activated", activated))
        if text
    )
    log = escape("\n".join(run.log_tail)) or "(no log)"
    return f'<details class="run"><summary>{summary}</summary>{details}<pre>{log}</pre></details>'


def _jobs(dashboard: Dashboard) -> str:
    panel = dashboard.jobs
    learn = ""
    if panel.learn_state is not None:
        learn = (
            f"<p>learn last read feedback up to event {panel.learn_state.last_event_id};"
            f" acceptance then {_rate(panel.learn_state.baseline_acceptance)}.</p>"
        )
    return _section(
        "jobs",
        "Jobs",
        "What are optimize and learn doing, and how did past runs end? Running and past runs with"
        " their progress and the end of their logs.",
        _note(panel.note),
        f"<p>{panel.running} running.</p>",
        learn,
        _chart("job-progress", "progress of optimize and learn runs"),
        "".join(_run(run) for run in panel.runs),
    )


def _fix_loop(dashboard: Dashboard) -> str:
    panel = dashboard.fix_loop
    summary = (
        f"<p>{panel.attempts} attempts, {panel.passed} passed the tests, {panel.failed} failed"
        f" (pass rate {_rate(panel.pass_rate)}); {panel.findings_fixed} of {panel.findings}"
        " findings fixed.</p>"
    )
    return _section(
        "fix-loop",
        "Fix loop",
        "Do test-verified fixes work? Rewrites the fix loop tried, and how many the project's"
        " tests passed, per day and per rule.",
        _note(panel.note),
        summary,
        '<div class="grid">',
        _chart("fix-loop-days", "fix attempts per day"),
        _chart("fix-loop-rules", "fix attempts per rule"),
        "</div>",
    )
