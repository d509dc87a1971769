"""The whole keyspace on one screen.

Every key of a study carries the study name as its hash tag, so a study lives in one Redis Cluster
slot and every script can touch all of its keys. Data keys also carry the study's uid (one per
incarnation): deleting a study and creating it again never mixes the two, and the old keys can be
swept in the background.

hone:studies                    zset   name -> created time (ms); the only key outside a study's slot
hone:{S}:study                  hash   uid, spec, created, seed, paused, seq, cursor, level, sampler
                                       state, draw limit, n_<state> counts, a warm start's report and
                                       its judging (whanded, wtold, wbest, fbest, wjudge, wdrop), the
                                       level's judge point (judge) and the claims to judge it or to
                                       prepare its draws (jclaim, pclaim), each for one state version
hone:{S}:<uid>:trials           hash   number -> record: ask JSON, then "\\n" + result JSON once finished
hone:{S}:<uid>:values           zset   number -> value of every complete trial (best, top-k, order)
hone:{S}:<uid>:leases           zset   number -> lease deadline (ms) of running trials and reservations
hone:{S}:<uid>:reserved         hash   number -> slot of an ask reserved but not yet committed
hone:{S}:<uid>:pending          zset   slot -> order: retries, enqueued configs, lost grid draws
hone:{S}:<uid>:enqueued         hash   id -> params JSON of a hand-enqueued or warm-start configuration
hone:{S}:<uid>:warm             list   enqueued ids of a warm start's configurations not yet handed out:
                                       they alternate with fresh draws until fresh draws beat them
hone:{S}:<uid>:prepared         hash   "<state version>:<number>:<draw>" -> draw fields computed ahead,
                                       so ask.lua can hand that draw out alone (one round trip)
hone:{S}:<uid>:configs          set    fingerprint of every configuration handed out: no fresh draw repeats one
hone:{S}:<uid>:levels           hash   "<level>:<a|d|b|r>" -> asked, done, best value and trials at the
                                       ASHA pruner's first rung, per level
hone:{S}:<uid>:regions          hash   level -> region JSON (coarse-to-fine zoom history)
hone:{S}:<uid>:curve:<n>        zset   "<step>:<value>" by step: trial n's learning curve (bounded)
hone:{S}:<uid>:step:<s>         zset   number -> value reported at step s (median pruner)
hone:{S}:<uid>:rung:<k>         zset   number -> value at ASHA rung k
hone:{S}:<uid>:notes            hash   number -> a short note on that trial
hone:{S}:<uid>:importance       string the last param importance, with the count of complete trials it
                                       was computed at (a cache: stale once that count moves; 24 h TTL)
hone:{S}:<uid>:idem:<sha256>    string a stored answer to an Idempotency-Key of a request on this
                                       incarnation (ask, tell, heartbeat, report): swept with it,
                                       so a retry after a re-create never replays the old answer
hone:{S}:idem:<sha256>          string a stored answer to an Idempotency-Key of a request on the
                                       name (create, delete, hand controls): outlives incarnations,
                                       so a replayed DELETE never deletes a newer one; 24 h
hone:{S}:staging                hash   uid -> start (ms) of an import not yet published: its data keys
                                       stay invisible until import_publish.lua writes the study key
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

STUDY_INDEX = "hone:studies"


def study_key(name: str) -> str:
    return f"hone:{{{name}}}:study"


def _digest(key: str) -> str:
    # Hashing keeps client-chosen text (braces, colons) out of the key name and its hash tag.
    return hashlib.sha256(key.encode()).hexdigest()


def idempotency_key(name: str, key: str) -> str:
    """Where the answer to a request on the study's name is kept."""
    return f"hone:{{{name}}}:idem:{_digest(key)}"


def staging_key(name: str) -> str:
    return f"hone:{{{name}}}:staging"


def data_pattern(name: str, uid: str) -> str:
    return f"hone:{{{name}}}:{uid}:*"


@dataclass(frozen=True)
class StudyKeys:
    name: str
    uid: str

    @property
    def study(self) -> str:
        return study_key(self.name)

    def _data(self, part: str) -> str:
        return f"hone:{{{self.name}}}:{self.uid}:{part}"

    @property
    def trials(self) -> str:
        return self._data("trials")

    @property
    def values(self) -> str:
        return self._data("values")

    @property
    def leases(self) -> str:
        return self._data("leases")

    @property
    def reserved(self) -> str:
        return self._data("reserved")

    @property
    def pending(self) -> str:
        return self._data("pending")

    @property
    def enqueued(self) -> str:
        return self._data("enqueued")

    @property
    def warm(self) -> str:
        return self._data("warm")

    @property
    def prepared(self) -> str:
        return self._data("prepared")

    @property
    def configs(self) -> str:
        return self._data("configs")

    @property
    def levels(self) -> str:
        return self._data("levels")

    @property
    def regions(self) -> str:
        return self._data("regions")

    @property
    def notes(self) -> str:
        return self._data("notes")

    @property
    def importance(self) -> str:
        return self._data("importance")

    def curve(self, number: int) -> str:
        return self._data(f"curve:{number}")

    def step(self, step: int) -> str:
        return self._data(f"step:{step}")

    def rung(self, rung: int) -> str:
        return self._data(f"rung:{rung}")

    def idempotency(self, key: str) -> str:
        """Where the answer to a request on this incarnation is kept."""
        return self._data(f"idem:{_digest(key)}")
