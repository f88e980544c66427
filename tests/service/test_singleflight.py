"""SingleFlight: callers of one key share one run, its value or its shared failure; a failure that is not
shared sends the waiting callers round again."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable

import anyio
import pytest

from service.singleflight import SingleFlight


def run_apart(main: Callable[[], Awaitable[None]]) -> None:
    """`anyio.run` in a thread of its own: a test before this one (Playwright's sync API) may leave an
    event loop running in the main thread, where a second one cannot start."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            anyio.run(main)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if errors:
        raise errors[0]


class Bad(Exception):
    pass


class Transient(Exception):
    pass


def test_callers_of_one_key_share_one_run_and_other_keys_run_apart() -> None:
    flights: SingleFlight[str] = SingleFlight()
    runs: list[str] = []
    got: list[tuple[str, bool]] = []
    release = anyio.Event()

    async def work(key: str) -> str:
        runs.append(key)
        await release.wait()
        return key.upper()

    async def call(key: str) -> None:
        got.append(await flights.run(key, lambda: work(key)))

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for key in ["a"] * 5 + ["b"]:
                tg.start_soon(call, key)
            while flights.waiting("a") < 4:
                await anyio.sleep(0)
            assert flights.in_flight("b") and flights.waiting("b") == 0
            release.set()
        assert not flights.in_flight("a")

    run_apart(main)
    assert sorted(runs) == ["a", "b"]
    assert sorted(got) == [("A", False)] * 4 + [("A", True), ("B", True)]


@pytest.mark.parametrize("shared", [True, False])
def test_a_failure_is_shared_or_run_again(shared: bool) -> None:
    flights: SingleFlight[int] = SingleFlight(share=lambda exc: isinstance(exc, Bad))
    runs = 0
    outcomes: list[object] = []

    async def work() -> int:
        nonlocal runs
        runs += 1
        first = runs == 1
        while flights.waiting("k") < (2 if first else 1):  # the others wait for this run
            await anyio.sleep(0)
        if first:
            raise Bad() if shared else Transient()
        return runs

    async def call() -> None:
        try:
            outcomes.append(await flights.run("k", work))
        except Exception as exc:
            outcomes.append(type(exc))

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(call)

    run_apart(main)
    if shared:  # the input's failure: every caller gets it, one run
        assert runs == 1 and outcomes == [Bad, Bad, Bad]
    else:  # the leader's own failure: a waiting caller runs the work again, the last one joins it
        assert runs == 2 and sorted(map(str, outcomes)) == sorted(map(str, [Transient, (2, True), (2, False)]))
