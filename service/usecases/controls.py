"""Hand controls for babysitting a study: queue exact configurations, pause, resume, notes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import Limits
from ..domain.errors import InvalidInput, SpaceError
from ..domain.study import Study
from ..domain.trial import Trial
from ..storage.store import Store
from .studies import Studies, StudyHandle, on_study

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

        return self._enqueue(name, configurations)

    @on_study
    def _enqueue(self, handle: StudyHandle, configurations: Sequence[Mapping[str, Any]]) -> list[Enqueued]:
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
        ids = self.store.enqueue(handle.keys, normalized)
        return [Enqueued(i, p) for i, p in zip(ids, normalized, strict=True)]

    def set_paused(self, name: str, paused: bool) -> Study:
        self._set_paused(name, paused)
        return self.studies.get(name)

    @on_study
    def _set_paused(self, handle: StudyHandle, paused: bool) -> None:
        self.store.set_paused(handle.keys, paused)

    def set_study_note(self, name: str, note: str) -> Study:
        self._set_study_note(name, _check_note(note))
        return self.studies.get(name)

    @on_study
    def _set_study_note(self, handle: StudyHandle, note: str) -> None:
        self.store.set_study_note(handle.keys, note)

    def set_trial_note(self, name: str, number: int, note: str) -> Trial:
        return self._set_trial_note(name, number, _check_note(note))

    @on_study
    def _set_trial_note(self, handle: StudyHandle, number: int, note: str) -> Trial:
        self.store.set_note(handle.keys, number, note)
        return self.store.records(handle.keys, [number])[0].to_trial(handle.spec.space)
