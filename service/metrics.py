"""Prometheus metrics. Under gunicorn every worker writes its samples to PROMETHEUS_MULTIPROC_DIR
(set up by gunicorn_conf.py) and /metrics adds them up, so counts are right with any number of
workers. Trials by state are read from Redis at scrape time, so they are right across machines."""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .domain.trial import TrialState

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
REQUESTS = Counter(
    "hone_http_requests_total", "HTTP requests by route, method and status.", ["route", "method", "status"]
)
ASK_SECONDS = Histogram("hone_ask_seconds", "Time to answer an ask.", buckets=LATENCY_BUCKETS)
TELL_SECONDS = Histogram("hone_tell_seconds", "Time to answer a tell.", buckets=LATENCY_BUCKETS)
LEASE_EXPIRIES = Counter("hone_lease_expiries_total", "Running trials whose lease ran out.")
ZOOMS = Counter("hone_zooms_total", "Coarse-to-fine level changes (zooms, widenings, restarts, hand edits).")
REPLAYS = Counter("hone_idempotent_replays_total", "Retried requests answered from their Idempotency-Key.")
REOFFERED = Counter("hone_reoffered_configurations_total", "Configurations handed out again after a failure or expiry.")
REDIS_ERRORS = Counter("hone_redis_errors_total", "Requests that found Redis unreachable or not ready.")


class StudyTrials(Collector):
    """Trial counts read from Redis on each scrape: `hone_trials{state}` and `hone_studies` cover
    every study; `hone_study_trials{study, state}` the `max_labelled` studies with the most running
    trials (then by name), so the label set stays bounded however many studies there are."""

    def __init__(self, counts: Callable[[], Iterator[tuple[str, dict[str, int]]]], max_labelled: int) -> None:
        self.counts = counts
        self.max_labelled = max_labelled

    def collect(self) -> Iterator[GaugeMetricFamily]:
        studies = list(self.counts())
        totals = GaugeMetricFamily("hone_trials", "Trials of every study by state.", labels=["state"])
        for state in TrialState:
            totals.add_metric([state.value], sum(counts.get(state.value, 0) for _, counts in studies))
        yield totals
        yield GaugeMetricFamily("hone_studies", "Studies, labelled in hone_study_trials or not.", value=len(studies))
        busiest = heapq.nsmallest(self.max_labelled, studies, key=lambda s: (-s[1].get("running", 0), s[0]))
        family = GaugeMetricFamily(
            "hone_study_trials",
            f"Trials by state of the {self.max_labelled} studies with the most running trials.",
            labels=["study", "state"],
        )
        for study, counts in sorted(busiest):
            for state in TrialState:
                family.add_metric([study, state.value], counts.get(state.value, 0))
        yield family


def render(studies: Callable[[], Iterator[tuple[str, dict[str, int]]]], max_labelled: int) -> bytes:
    """The exposition text: this service's metrics (all workers), then the per-study gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base)
    else:
        base = REGISTRY
    per_scrape = CollectorRegistry()
    per_scrape.register(StudyTrials(studies, max_labelled))
    return generate_latest(base) + generate_latest(per_scrape)


def observe_expired(count: int) -> None:
    if count > 0:
        LEASE_EXPIRIES.inc(count)
