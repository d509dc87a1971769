"""Read-side use cases on trials: one trial, the best, and pages of trials in a chosen order."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from ..domain.errors import InvalidInput, NotFound
from ..domain.trial import Trial, TrialState
from ..storage.records import decode_stored
from ..storage.store import Store
from .studies import Studies, StudyHandle

ORDERS = ("number", "-number", "value")
SCAN_CHUNK = 200  # numbers read per round trip while filtering by state
MAX_SCAN_PER_PAGE = 20_000  # a filter that matches rarely returns a cursor instead of reading on


@dataclass(frozen=True)
class Page:
    trials: list[Trial]
    next_cursor: str | None


class TrialQueries:
    def __init__(self, studies: Studies, store: Store) -> None:
        self.studies = studies
        self.store = store

    def get(self, name: str, number: int) -> Trial:
        def run(handle: StudyHandle) -> Trial:
            self.store.expire(handle.keys)
            found = self.store.records(handle.keys, [number])
            if not found:
                raise NotFound(f"study {name!r} has no trial {number}", code="trial_not_found")
            return decode_stored(found[0], handle.spec.space)

        return self.studies.with_handle(name, run)

    def best(self, name: str) -> Trial:
        def run(handle: StudyHandle) -> Trial:
            top = self.store.top(handle.keys, handle.spec.direction.value, 1)
            if not top:
                raise NotFound(f"study {name!r} has no complete trial yet", code="no_complete_trial")
            return decode_stored(top[0], handle.spec.space)

        return self.studies.with_handle(name, run)

    def page(
        self, name: str, *, states: frozenset[TrialState] | None, order: str, cursor: str | None, limit: int
    ) -> Page:
        _check_listing(states, order)

        def run(handle: StudyHandle) -> Page:
            self.store.expire(handle.keys)
            if order == "value":
                return self._by_value(handle, cursor, limit)
            return self._by_number(handle, states, descending=order == "-number", cursor=cursor, limit=limit)

        return self.studies.with_handle(name, run)

    def iterate(self, name: str, *, states: frozenset[TrialState] | None, order: str) -> Iterator[Trial]:
        """Every matching trial, page by page. Checks the query and the study before it starts,
        so a streamed response never begins with a request that is going to fail."""
        _check_listing(states, order)
        self.studies.handle(name)

        def pages() -> Iterator[Trial]:
            cursor = None
            while True:
                page = self.page(name, states=states, order=order, cursor=cursor, limit=SCAN_CHUNK)
                yield from page.trials
                if page.next_cursor is None:
                    return
                cursor = page.next_cursor

        return pages()

    def _by_number(
        self,
        handle: StudyHandle,
        states: frozenset[TrialState] | None,
        *,
        descending: bool,
        cursor: str | None,
        limit: int,
    ) -> Page:
        total = self.store.trial_count(handle.keys)
        position = _parse_int_cursor(cursor) if cursor else (total - 1 if descending else 0)
        step = -1 if descending else 1
        trials: list[Trial] = []
        scanned = 0
        while len(trials) < limit and 0 <= position < total and scanned < MAX_SCAN_PER_PAGE:
            end = max(position - SCAN_CHUNK, -1) if descending else min(position + SCAN_CHUNK, total)
            numbers = list(range(position, end, step))
            position = numbers[-1] + step
            for stored in self.store.records(handle.keys, numbers):
                trial = decode_stored(stored, handle.spec.space)
                if states is None or trial.state in states:
                    trials.append(trial)
                    if len(trials) == limit:
                        position = stored.number + step
                        break
            scanned += len(numbers)
        more = 0 <= position < total
        return Page(trials, str(position) if more else None)

    def _by_value(self, handle: StudyHandle, cursor: str | None, limit: int) -> Page:
        after = _parse_value_cursor(cursor) if cursor else None
        rows = self.store.by_value(handle.keys, handle.spec.direction.value, after, limit)
        trials = [decode_stored(stored, handle.spec.space) for stored, _ in rows]
        next_cursor = f"{rows[-1][1]!r}~{rows[-1][0].number}" if len(rows) == limit else None
        return Page(trials, next_cursor)


def _check_listing(states: frozenset[TrialState] | None, order: str) -> None:
    if order not in ORDERS:
        raise InvalidInput(f"order must be one of {', '.join(ORDERS)}", code="invalid_order")
    if order == "value" and states is not None and states != {TrialState.COMPLETE}:
        raise InvalidInput("order=value lists complete trials only", code="invalid_order")


def _malformed_cursor() -> InvalidInput:
    return InvalidInput("malformed cursor; pass back next_cursor as given", code="invalid_cursor")


def _parse_int_cursor(cursor: str) -> int:
    try:
        position = int(cursor)
    except ValueError:
        raise _malformed_cursor() from None
    if position < 0:
        raise _malformed_cursor()
    return position


def _parse_value_cursor(cursor: str) -> tuple[float, int]:
    value_text, _, number_text = cursor.partition("~")
    try:
        value, number = float(value_text), _parse_int_cursor(number_text)
    except ValueError:
        raise _malformed_cursor() from None
    if not math.isfinite(value):  # told values are finite: no cursor of ours holds nan or inf
        raise _malformed_cursor()
    return value, number
