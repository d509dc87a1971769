"""The stored trial encoding (storage/records.py) reads back what it wrote."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.domain.stored import DrawRecord
from service.domain.trial import Outcome, TrialState
from service.storage.records import (
    ask_record,
    config_fingerprint,
    config_mark,
    decode_retried,
    decode_trial,
    draw_members,
    prepared_draw,
    result_members,
)

packed_values = st.one_of(st.none(), st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False))
draws = st.builds(
    DrawRecord,
    packed=st.lists(packed_values, max_size=5),
    source=st.sampled_from(["coarse_to_fine", "grid", "random", "enqueued", "repeat"]),
    level=st.none() | st.integers(0, 100),
    attempt=st.integers(0, 5),
    retry_of=st.none() | st.integers(0, 10**6),
    retry_failed=st.booleans(),
)
workers = st.none() | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)


@given(draws, workers, st.integers(0, 2**45))
def test_a_running_record_reads_back(draw: DrawRecord, worker: str | None, asked_ms: int) -> None:
    stored = decode_trial(7, ask_record(draw, worker=worker, asked_ms=asked_ms), deadline_ms=asked_ms + 1)
    assert stored.draw == draw
    assert (stored.number, stored.worker, stored.asked_ms) == (7, worker, asked_ms)
    assert stored.state is TrialState.RUNNING and stored.deadline_ms == asked_ms + 1


@given(draws, st.sampled_from([TrialState.COMPLETE, TrialState.FAILED]), packed_values, st.none() | st.text())
def test_a_finished_record_reads_back(draw: DrawRecord, state: TrialState, value: object, error: str | None) -> None:
    outcome = Outcome(state, value if isinstance(value, float) else None, error)
    # tell.lua puts the finish time in front of the result members.
    record = ask_record(draw, worker=None, asked_ms=1) + '\n{"f":5,' + result_members(outcome)
    stored = decode_trial(3, record)
    assert (stored.state, stored.value, stored.error, stored.finished_ms) == (state, outcome.value, error, 5)


@given(draws)
def test_a_retried_draw_is_the_next_attempt_of_its_trial(draw: DrawRecord) -> None:
    ask_text = ask_record(draw, worker="w", asked_ms=1)
    retried = decode_retried(ask_text, 42)
    assert (retried.attempt, retried.retry_of) == (draw.attempt + 1, 42)
    assert (list(retried.packed), retried.source, retried.level, retried.retry_failed) == (
        list(draw.packed),
        draw.source,
        draw.level,
        draw.retry_failed,
    )


@given(draws)
def test_a_configuration_keeps_its_fingerprint_through_storage(draw: DrawRecord) -> None:
    # A retry is decoded from the stored record: it must fingerprint as its original did, or the
    # config set would miss a repeat (or refuse a configuration it never held).
    retried = decode_retried(ask_record(draw, worker=None, asked_ms=1), 9)
    assert config_mark(retried, fresh=False) == config_fingerprint(draw.packed)
    assert config_mark(draw, fresh=True) == "!" + config_fingerprint(draw.packed)
    fingerprint, _, members = prepared_draw(draw).partition(" ")
    assert (fingerprint, members) == (config_fingerprint(draw.packed), draw_members(draw))
