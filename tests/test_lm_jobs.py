"""When LM jobs run: triggers from lm.run_on, newest request wins, bounded queue, state told once."""

from __future__ import annotations

import asyncio

from dspy_lsp.server.lm.jobs import LmJobs
from dspy_lsp.server.settings import LmSettings


def jobs_with(**settings: object) -> tuple[LmJobs, list[tuple[str, bool]]]:
    told: list[tuple[str, bool]] = []
    jobs = LmJobs(lambda message, warning: told.append((message, warning)))
    jobs.configure(LmSettings(model="openai/x", cache_path=":memory:", **settings))
    return jobs, told


async def test_triggers_follow_run_on() -> None:
    jobs, _ = jobs_with(run_on=("save", "command"))
    assert not jobs.wants("open") and jobs.wants("save") and jobs.wants("command")


async def test_no_model_is_said_once_and_never_runs() -> None:
    told: list[tuple[str, bool]] = []
    jobs = LmJobs(lambda message, warning: told.append((message, warning)))
    jobs.configure(LmSettings())
    jobs.configure(LmSettings())
    assert not jobs.wants("open")
    assert len(told) == 1 and "no LM configured" in told[0][0] and told[0][1] is False


async def test_a_newer_request_for_a_document_cancels_the_older_one() -> None:
    jobs, _ = jobs_with()
    started: list[str] = []

    def work(name: str):
        async def run(_tier: object) -> None:
            started.append(name)
            await asyncio.sleep(10)

        return run

    first = jobs.request("file:///a.py", work("first"))
    await asyncio.sleep(0)
    second = jobs.request("file:///a.py", work("second"))
    await asyncio.sleep(0.01)
    assert first is not None and first.cancelled()
    assert second is not None and not second.done()
    jobs.cancel("file:///a.py")
    await asyncio.sleep(0)
    assert jobs.pending == 0


async def test_the_queue_is_bounded() -> None:
    jobs, _ = jobs_with(max_queue=2)

    async def slow(_tier: object) -> None:
        await asyncio.sleep(10)

    accepted = [jobs.request(f"file:///{i}.py", slow) for i in range(5)]
    assert sum(task is not None for task in accepted) == 2
    assert jobs.refused == 3
    for i in range(5):
        jobs.cancel(f"file:///{i}.py")
