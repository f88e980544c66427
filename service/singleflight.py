"""Single flight: concurrent calls with the same key share one run of the work (in one process).

The first caller of a key runs the work; callers that arrive while it runs wait for it and get its
value, or its exception where `share` says the failure is the input's (reading the same bytes again
would fail the same way). A failure that is not shared (the database, a cancelled leader) sends the
waiting callers round again: one of them runs the work itself. Replicas each have their own flights;
between them the database's keys keep one record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

T = TypeVar("T")


@dataclass
class _Flight(Generic[T]):
    done: anyio.Event = field(default_factory=anyio.Event)
    followers: int = 0
    ok: bool = False
    value: T | None = None
    error: BaseException | None = None


class SingleFlight(Generic[T]):
    def __init__(self, share: Callable[[BaseException], bool] | None = None) -> None:
        self._flights: dict[Hashable, _Flight[T]] = {}
        self._share = share or (lambda exc: isinstance(exc, Exception))

    def in_flight(self, key: Hashable) -> bool:
        return key in self._flights

    def waiting(self, key: Hashable) -> int:
        """How many callers wait for the key's running work (0 when none runs)."""
        flight = self._flights.get(key)
        return flight.followers if flight else 0

    async def run(self, key: Hashable, work: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The work's value, and whether this call ran it (False: it waited for another call's run)."""
        while True:
            flight = self._flights.get(key)
            if flight is None:
                return await self._lead(key, work), True
            flight.followers += 1
            try:
                await flight.done.wait()
            finally:
                flight.followers -= 1
            if flight.ok:
                return flight.value, False  # type: ignore[return-value]  # set with ok
            if flight.error is not None:
                raise flight.error
            # The leader's failure was its own: go round, and lead if nobody else does.

    async def _lead(self, key: Hashable, work: Callable[[], Awaitable[T]]) -> T:
        flight: _Flight[T] = _Flight()
        self._flights[key] = flight
        try:
            flight.value = await work()
            flight.ok = True
            return flight.value
        except BaseException as exc:
            if self._share(exc):
                flight.error = exc
            raise
        finally:
            del self._flights[key]
            flight.done.set()
