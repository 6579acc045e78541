"""Team mode under load: simulated developers (one process each) sharing one PostgreSQL.

Each user records feedback through the real team feedback store and opens files through the
real team LM cache, at editor rates with jitter (Poisson arrivals). Files come from one pool
shared by the team, the popular ones opened far more often (Zipf), as on a real team, so a unit
one developer's server reviewed is a hit for the next: the cross-user hit rate means something.
A miss stands for an LM call (not made: the model's time is not the store's) and stores the
result. Then a saturation run: every user records as fast as it can, for the most events per
second this machine sustains. Each run is made twice: against the team store, and against what
every developer has without it, a SQLite feedback file and LM cache of their own (the anchor).

Without ``--url``, a throwaway cluster is started as the tests start theirs
(``tests/postgres_cluster.py``), but with ``fsync`` on: an event counts as kept only once it is
on disk, so the latency includes the commit's flush.

    python benchmarks/team.py [--users 20] [--seconds 30] [--saturation-seconds 10]
                              [--url postgresql://user@host/db] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from dspy_lsp.analyzers.learning.records import FeedbackEvent, FeedbackKind
from dspy_lsp.server.lm.cache import CacheKey, LmCache, ResultCache
from dspy_lsp.server.lm.team_cache import TeamLmCache
from dspy_lsp.server.store.feedback_backend import FeedbackBackend, open_feedback_store
from dspy_lsp.server.store.feedback_store import FeedbackStore
from dspy_lsp.server.store.postgres.team_store import close_team_stores, team_store
from dspy_lsp.server.store.store_choice import StoreChoice
from dspy_lsp.server.store.store_url import parse_store_url
from dspy_lsp.server.store.tenant import Tenant

TESTS_DIR = Path(__file__).resolve().parents[1] / "tests"
PROJECT = "github.com/acme/benchmark"
MODEL = "openai/gpt-4o-mini"
VERSION = "analyze@bench"
KINDS = (
    FeedbackKind.ACCEPTED,
    FeedbackKind.ACCEPTED,
    FeedbackKind.DISMISSED_FALSE_POSITIVE,
    FeedbackKind.DISMISSED_LATER,
    FeedbackKind.IGNORED,
)


@dataclass(frozen=True)
class Pace:
    """How one simulated user works."""

    events_per_s: float = 2.0
    """Feedback events per second (a busy session of accepting and dismissing findings)."""
    opens_per_s: float = 1.0
    """Files opened (or re-analysed after an edit) per second."""
    units_per_file: int = 8
    """Cache lookups per file: one per function or method."""
    files: int = 200
    """The team's shared pool of files."""
    zipf: float = 1.0
    """How much more the popular files are opened: the k-th most opened has weight 1/k^zipf."""
    saturate: bool = False
    """Record back to back, no cache: the most events per second."""


@dataclass
class UserResult:
    """What one simulated user measured (seconds)."""

    user: str
    seconds: float = 0.0
    write_latencies: list[float] = field(default_factory=list)
    lookups: int = 0
    hits: int = 0
    cross_hits: int = 0
    """Hits on an entry another user's server stored."""
    puts: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunFigures:
    name: str
    users: int
    seconds: float
    events: int
    events_per_s: float
    write_p50_ms: float | None
    write_p95_ms: float | None
    write_max_ms: float | None
    lookups: int
    lookups_per_s: float
    hit_rate: float | None
    cross_user_hit_rate: float | None
    """Of all lookups, the share answered by an entry another user stored."""
    errors: int


def event(user: str, n: int, rng: random.Random) -> FeedbackEvent:
    """A verdict on a finding of the shared files, with its unit (what a real event carries)."""
    unit = rng.randrange(10_000)
    return FeedbackEvent(
        kind=rng.choice(KINDS),
        action_kind="quickfix",
        finding_id=f"{user}-{n}",
        rule=rng.choice(("DL104", "DL115", "LM-bug", "LM-security")),
        category="correctness",
        program_version=VERSION,
        unit_hash=f"unit-{unit}",
        path=f"src/module_{unit % 200}.py",
        line=3,
        end_line=4,
        message="the result of open() is never closed",
        code=f"def handler_{unit}(path):\n    data = open(path).read()\n    return data\n",
        created=time.time(),
    )


def simulate_user(
    url: str,
    index: int,
    pace: Pace,
    seconds: float,
    data_dir: str,
    start: Any,
    results: Any,
    local: bool,
) -> None:
    """One developer's server: opens its stores, waits for the others, then works ``seconds``.
    Its local queue for outages goes to the run's scratch data directory (``XDG_DATA_HOME``)."""
    os.environ["XDG_DATA_HOME"] = data_dir
    user = f"dev{index:02d}@acme.example"
    tenant = Tenant(PROJECT, user)
    result = UserResult(user)
    rng = random.Random(index)
    feedback: FeedbackBackend
    cache: ResultCache
    if local:  # the anchor: this developer's own files, as without a team store
        feedback = FeedbackStore(Path(data_dir) / f"{user}.sqlite3", user=user)
        cache = LmCache(Path(data_dir) / f"{user}-lm-cache.sqlite3")
    else:
        feedback = open_team_feedback(StoreChoice(parse_store_url(url), tenant))
        cache = TeamLmCache(team_store(url), tenant, url)
    weights = [1 / (k + 1) ** pace.zipf for k in range(pace.files)]
    cache.get(CacheKey("warm-up", VERSION, MODEL, "s"))  # connect before the clock starts
    start.wait()
    began = time.perf_counter()
    end = began + seconds
    next_event = began if pace.saturate else began + rng.expovariate(pace.events_per_s)
    next_open = math.inf if pace.saturate else began + rng.expovariate(pace.opens_per_s)
    n = 0
    try:
        while (now := time.perf_counter()) < end:
            due = min(next_event, next_open)
            if due > now:
                time.sleep(min(due, end) - now)
            elif next_event <= next_open:
                sent = time.perf_counter()
                feedback.record(event(user, n, rng))
                result.write_latencies.append(time.perf_counter() - sent)
                n += 1
                next_event += 0 if pace.saturate else rng.expovariate(pace.events_per_s)
            else:
                open_file(cache, rng.choices(range(pace.files), weights)[0], pace, user, result)
                next_open += rng.expovariate(pace.opens_per_s)
    except Exception as exc:  # reported with the figures, not a traceback per process
        result.errors.append(f"{type(exc).__name__}: {exc}")
    result.seconds = time.perf_counter() - began
    feedback.close()
    close_team_stores()
    results.put(result)


def open_file(cache: ResultCache, file: int, pace: Pace, user: str, result: UserResult) -> None:
    """Look up each unit of ``file``; a miss stands for an LM call, whose result is stored."""
    for unit in range(pace.units_per_file):
        key = CacheKey(f"file-{file}-unit-{unit}", VERSION, MODEL, "settings")
        value = cache.get(key)
        result.lookups += 1
        if value is None:
            cache.put(key, json.dumps({"by": user, "findings": []}))
            result.puts += 1
            continue
        result.hits += 1
        result.cross_hits += json.loads(value)["by"] != user


def open_team_feedback(choice: StoreChoice) -> FeedbackBackend:
    """The team feedback store the server would open for ``choice``."""
    return open_feedback_store(choice, Path(os.environ["XDG_DATA_HOME"]) / "unused.sqlite3")


def measure(
    url: str, users: int, seconds: float, saturation_s: float, pace: Pace
) -> list[RunFigures]:
    """The editor run, then (``saturation_s`` > 0) the saturation run, on a cleared project."""
    prepare(url)
    runs = [
        run(url, "editor rates, own SQLite files (anchor)", users, seconds, pace, local=True),
        run(url, "editor rates, team store", users, seconds, pace, local=False),
    ]
    if saturation_s > 0:
        flat_out = Pace(saturate=True)
        runs.append(run(url, "saturation, own SQLite files (anchor)", users, saturation_s,
                        flat_out, local=True))  # fmt: skip
        runs.append(run(url, "saturation, team store", users, saturation_s, flat_out, local=False))
    return runs


def run(url: str, name: str, users: int, seconds: float, pace: Pace, *, local: bool) -> RunFigures:
    """``users`` processes against ``url`` for ``seconds``; their figures summed."""
    context = multiprocessing.get_context("fork")  # the children need none of main's imports
    start = context.Barrier(users + 1)
    results = context.Queue()
    data_dir = tempfile.mkdtemp(prefix="dspy-lsp-team-bench-")
    processes = [
        context.Process(
            target=simulate_user,
            args=(url, i, pace, seconds, data_dir, start, results, local),
        )
        for i in range(users)
    ]
    for process in processes:
        process.start()
    start.wait(timeout=120)
    collected = [results.get(timeout=seconds + 120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    shutil.rmtree(data_dir, ignore_errors=True)
    return figures(name, collected, seconds)


def figures(name: str, results: Sequence[UserResult], seconds: float) -> RunFigures:
    latencies = sorted(x for r in results for x in r.write_latencies)
    lookups = sum(r.lookups for r in results)
    hits = sum(r.hits for r in results)
    elapsed = max((r.seconds for r in results), default=seconds)
    for error in (e for r in results for e in r.errors):
        print(f"! {error}", file=sys.stderr)
    return RunFigures(
        name=name,
        users=len(results),
        seconds=elapsed,
        events=len(latencies),
        events_per_s=len(latencies) / elapsed,
        write_p50_ms=percentile(latencies, 0.50),
        write_p95_ms=percentile(latencies, 0.95),
        write_max_ms=latencies[-1] * 1000 if latencies else None,
        lookups=lookups,
        lookups_per_s=lookups / elapsed,
        hit_rate=hits / lookups if lookups else None,
        cross_user_hit_rate=sum(r.cross_hits for r in results) / lookups if lookups else None,
        errors=sum(len(r.errors) for r in results),
    )


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile, in milliseconds."""
    if not ordered:
        return None
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))] * 1000


def server_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        fsync = conn.execute("SHOW fsync").fetchone()
        commit = conn.execute("SHOW synchronous_commit").fetchone()
    assert row and fsync and commit
    return f"PostgreSQL {row[0]} (fsync {fsync[0]}, synchronous_commit {commit[0]})"


def throwaway_database() -> tuple[str, Any]:
    """A new cluster as the tests start theirs, but with fsync on, and an empty database."""
    sys.path.insert(0, str(TESTS_DIR))
    from postgres_cluster import missing_reason, start_cluster

    reason = missing_reason()
    if reason is not None:
        raise SystemExit(f"no PostgreSQL to benchmark: {reason}; or pass --url")
    cluster = start_cluster(fsync=True)
    return cluster.create_database(), cluster


def prepare(url: str) -> None:
    """The schema, and no rows of an earlier run of this benchmark's project."""
    store = team_store(url)
    store.ensure_schema()
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("feedback_events", "lm_cache"):
            conn.execute(f"DELETE FROM {table} WHERE project = %s", (PROJECT,))
    close_team_stores()  # the children must not inherit the pool's connections or threads


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def report(runs: Sequence[RunFigures], machine: str, database: str) -> str:
    """A Markdown table, as docs/performance.md shows it."""
    lines = [
        f"machine: {machine}; {database}",
        "",
        "| run | users | s | events | events/s | write p50 ms | write p95 ms | write max ms"
        " | cache lookups/s | hit rate | cross-user hits | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r.name} | {r.users} | {r.seconds:.0f} | {r.events:,} | {r.events_per_s:,.1f}"
            f" | {_ms(r.write_p50_ms)} | {_ms(r.write_p95_ms)} | {_ms(r.write_max_ms)}"
            f" | {r.lookups_per_s:,.0f} | {_pct(r.hit_rate)} | {_pct(r.cross_user_hit_rate)}"
            f" | {r.errors} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    pace = Pace()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20, help="simulated users (processes)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the editor run")
    parser.add_argument(
        "--saturation-seconds", type=float, default=10.0, help="length of the saturation run"
    )
    parser.add_argument("--events-per-s", type=float, default=pace.events_per_s)
    parser.add_argument("--opens-per-s", type=float, default=pace.opens_per_s)
    parser.add_argument("--files", type=int, default=pace.files)
    parser.add_argument("--url", help="an existing database (default: a throwaway cluster)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    cluster = None
    url = args.url
    if url is None:
        url, cluster = throwaway_database()
    try:
        database = server_version(url)
        pace = Pace(events_per_s=args.events_per_s, opens_per_s=args.opens_per_s, files=args.files)
        runs = measure(url, args.users, args.seconds, args.saturation_seconds, pace)
    finally:
        if cluster is not None:
            from postgres_cluster import remove_cluster

            remove_cluster(cluster)
    machine = f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
    print(report(runs, machine, database))
    if args.json:
        payload = {"machine": machine, "database": database, "runs": [asdict(r) for r in runs]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
