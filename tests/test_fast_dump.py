"""The compiled trial dumper gives exactly what TrialSchema gives, for any trial."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.api.fast_dump import compile_dumper
from service.api.schemas import ParamSchema, TrialSchema
from service.domain.trial import Trial, TrialState

maybe_time = st.none() | st.floats(min_value=0, max_value=4e9)
trials = st.builds(
    Trial,
    number=st.integers(min_value=0, max_value=2**53),
    params=st.dictionaries(st.text(min_size=1, max_size=8), st.floats(allow_nan=False) | st.text() | st.booleans()),
    state=st.sampled_from(TrialState),
    value=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    worker=st.none() | st.text(max_size=10),
    asked_at=st.floats(min_value=0, max_value=4e9),
    finished_at=maybe_time,
    source=st.sampled_from(["random", "grid", "enqueued"]),
    level=st.none() | st.integers(min_value=0, max_value=50),
    attempt=st.integers(min_value=0, max_value=5),
    retry_of=st.none() | st.integers(min_value=0),
    error=st.none() | st.text(max_size=20),
    lease_expires_at=maybe_time,
    note=st.none() | st.text(max_size=20),
)
dump = compile_dumper(TrialSchema())


@given(trials)
def test_compiled_dumper_matches_the_schema(trial: Trial) -> None:
    assert dump(trial) == TrialSchema().dump(trial)


def test_schemas_with_nested_fields_are_refused() -> None:
    with pytest.raises(TypeError):
        compile_dumper(ParamSchema())
