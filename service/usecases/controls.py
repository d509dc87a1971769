"""Hand controls for babysitting a study: queue exact configurations, pause, resume, notes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import Limits
from ..domain.errors import InvalidInput, SpaceError
from ..domain.study import Study
from ..domain.trial import Trial
from ..storage.records import decode_stored, enqueued_payload
from ..storage.store import Store
from .studies import Studies, StudyHandle

MAX_NOTE = 2000  # a sentence or a paragraph: why the study or the trial looks the way it does


@dataclass(frozen=True)
class Enqueued:
    id: int
    params: Mapping[str, Any]


def _check_note(note: str) -> str:
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"a note holds at most {MAX_NOTE} characters", code="note_too_long")
    return note


class Controls:
    def __init__(self, studies: Studies, store: Store, limits: Limits) -> None:
        self.studies = studies
        self.store = store
        self.limits = limits

    def enqueue(self, name: str, configurations: Sequence[Mapping[str, Any]]) -> list[Enqueued]:
        if not 1 <= len(configurations) <= self.limits.max_enqueue_count:
            raise InvalidInput(
                f"enqueue 1 to {self.limits.max_enqueue_count} configurations at a time", code="invalid_count"
            )

        def run(handle: StudyHandle) -> list[Enqueued]:
            normalized = []
            for i, params in enumerate(configurations):
                try:
                    normalized.append(handle.spec.space.normalize(params))
                except SpaceError as exc:
                    raise InvalidInput(
                        f"configuration {i}: {exc.message}",
                        code="invalid_configuration",
                        details={"index": i, **exc.details},
                    ) from None
            ids = self.store.enqueue(handle.keys, [enqueued_payload(p) for p in normalized])
            return [Enqueued(i, p) for i, p in zip(ids, normalized, strict=True)]

        return self.studies.with_handle(name, run)

    def set_paused(self, name: str, paused: bool) -> Study:
        self.studies.with_handle(name, lambda h: self.store.set_study_field(h.keys, "paused", "1" if paused else "0"))
        return self.studies.get(name)

    def set_study_note(self, name: str, note: str) -> Study:
        _check_note(note)
        self.studies.with_handle(name, lambda h: self.store.set_study_field(h.keys, "note", note))
        return self.studies.get(name)

    def set_trial_note(self, name: str, number: int, note: str) -> Trial:
        _check_note(note)

        def run(handle: StudyHandle) -> Trial:
            self.store.set_note(handle.keys, number, note)
            return decode_stored(self.store.records(handle.keys, [number])[0], handle.spec.space)

        return self.studies.with_handle(name, run)
