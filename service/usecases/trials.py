"""Read-side use cases on trials: one trial, the best, and pages of trials in a chosen order."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from ..config import Limits
from ..domain.errors import InvalidInput, NotFound
from ..domain.trial import TRIAL_ORDERS, Trial, TrialState
from ..storage.store import Store
from .studies import Studies, StudyHandle, on_study

SCAN_CHUNK = 200  # numbers read per round trip while filtering by state
MAX_SCAN_PER_PAGE = 20_000  # a filter that matches rarely returns a cursor instead of reading on


@dataclass(frozen=True)
class Page:
    trials: list[Trial]
    next_cursor: str | None


class TrialQueries:
    def __init__(self, studies: Studies, store: Store, limits: Limits) -> None:
        self.studies = studies
        self.store = store
        self.limits = limits

    @on_study
    def get(self, handle: StudyHandle, number: int) -> Trial:
        self.store.expire(handle.keys)
        found = self.store.records(handle.keys, [number])
        if not found:
            raise NotFound(f"study {handle.name!r} has no trial {number}", code="trial_not_found")
        return found[0].to_trial(handle.spec.space)

    @on_study
    def best(self, handle: StudyHandle) -> Trial:
        top = self.store.top(handle.keys, handle.spec.direction.value, 1)
        if not top:
            raise NotFound(f"study {handle.name!r} has no complete trial yet", code="no_complete_trial")
        return top[0].to_trial(handle.spec.space)

    def page(
        self, name: str, *, states: frozenset[TrialState] | None, order: str, cursor: str | None, limit: int
    ) -> Page:
        self.limits.check_page_size(limit)
        return self._page(name, states, order, cursor, limit)

    def _page(
        self, name: str, states: frozenset[TrialState] | None, order: str, cursor: str | None, limit: int
    ) -> Page:
        _check_listing(states, order)
        return self._read_page(name, states, order, cursor, limit)

    @on_study
    def _read_page(
        self, handle: StudyHandle, states: frozenset[TrialState] | None, order: str, cursor: str | None, limit: int
    ) -> Page:
        self.store.expire(handle.keys)
        if order == "value":
            return self._by_value(handle, cursor, limit)
        return self._by_number(handle, states, descending=order == "-number", cursor=cursor, limit=limit)

    def iterate(self, name: str, *, states: frozenset[TrialState] | None, order: str) -> Iterator[Trial]:
        """Every matching trial, page by page. Checks the query and the study before it starts,
        so a streamed response never begins with a request that is going to fail."""
        _check_listing(states, order)
        self.studies.handle(name)

        def pages() -> Iterator[Trial]:
            cursor = None
            while True:
                page = self._page(name, states, order, cursor, SCAN_CHUNK)
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
                trial = stored.to_trial(handle.spec.space)
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
        trials = [stored.to_trial(handle.spec.space) for stored, _ in rows]
        next_cursor = f"{rows[-1][1]!r}~{rows[-1][0].number}" if len(rows) == limit else None
        return Page(trials, next_cursor)


def _check_listing(states: frozenset[TrialState] | None, order: str) -> None:
    if order not in TRIAL_ORDERS:
        raise InvalidInput(f"order must be one of {', '.join(TRIAL_ORDERS)}", code="invalid_order")
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
