"""Intake's own settings, read from the environment by :meth:`IntakeSettings.from_env`.

``POLKU_TRIAGE_GRID`` (the four-field grid, JSON), ``POLKU_DEFAULT_TEAM`` and
``POLKU_REPEAT_REFERRALS_FLAG``. What every service runs on (NATS, store, keys, the roster) is
the runtime's :class:`polku.settings.Settings`.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, field

from contracts.vocabulary import WORKER_ROLES
from polku.settings import SettingsError, env_int


@dataclass(frozen=True)
class Quadrant:
    code: str
    when: dict[str, str]
    special_support_suspected: bool
    role: str
    meaning: str


@dataclass(frozen=True)
class TriageGrid:
    """The four-field grid of special support need: its axes and what each quadrant means.

    Policy, configured once and the same for every worker (``POLKU_TRIAGE_GRID``, JSON)."""

    axes: dict[str, tuple[str, ...]]
    quadrants: tuple[Quadrant, ...]

    def place(self, positions: dict[str, str]) -> Quadrant | None:
        for quadrant in self.quadrants:
            if quadrant.when == positions:
                return quadrant
        return None


#: Adapted from Varha's tool as Pohjois-Savo uses it: can the client seek and obtain the
#: services they need, and are the needs single or several at once.
DEFAULT_TRIAGE_GRID = {
    "axes": {"seeks_help": ["able", "unable"], "needs": ["single", "multiple"]},
    "quadrants": [
        {"code": "A", "when": {"seeks_help": "able", "needs": "single"}, "special_support_suspected": False,
         "role": "social_counsellor", "meaning": "guidance and counselling; no special support need suspected"},
        {"code": "B", "when": {"seeks_help": "able", "needs": "multiple"}, "special_support_suspected": False,
         "role": "social_counsellor", "meaning": "several needs but able to use services: coordinated guidance"},
        {"code": "C", "when": {"seeks_help": "unable", "needs": "single"}, "special_support_suspected": True,
         "role": "social_worker", "meaning": "difficulty seeking help: special support need suspected"},
        {"code": "D", "when": {"seeks_help": "unable", "needs": "multiple"}, "special_support_suspected": True,
         "role": "social_worker", "meaning": "several needs at once and difficulty seeking help: special support"},
    ],
}


def parse_triage_grid(raw: str | None) -> TriageGrid:
    try:
        data = json.loads(raw) if raw else DEFAULT_TRIAGE_GRID
        axes = {str(k): tuple(str(v) for v in values) for k, values in data["axes"].items()}
        quadrants = tuple(
            Quadrant(
                code=str(q["code"]), when={str(k): str(v) for k, v in q["when"].items()},
                special_support_suspected=bool(q["special_support_suspected"]), role=str(q["role"]),
                meaning=str(q.get("meaning", "")),
            )
            for q in data["quadrants"]
        )
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise SettingsError(f"POLKU_TRIAGE_GRID is not a grid: {e}") from None
    grid = TriageGrid(axes, quadrants)
    for combination in itertools.product(*axes.values()):
        positions = dict(zip(axes, combination, strict=True))
        if sum(q.when == positions for q in quadrants) != 1:
            raise SettingsError(f"POLKU_TRIAGE_GRID: {positions} must fall in exactly one quadrant")
    for q in quadrants:
        if q.role not in WORKER_ROLES:
            raise SettingsError(f"POLKU_TRIAGE_GRID: quadrant {q.code} names an unknown role {q.role}")
        if q.special_support_suspected and q.role != "social_worker":
            raise SettingsError(
                f"POLKU_TRIAGE_GRID: quadrant {q.code} suspects special support, so its role is social_worker (SHL 42 §)"
            )
    return grid


@dataclass(frozen=True)
class IntakeSettings:
    triage_grid: TriageGrid = field(default_factory=lambda: parse_triage_grid(None))
    #: the distribution team of a referral that names none (and whose actor names none)
    default_team: str = "team-north"
    #: the latest this-many referrals of a client all unreached or declined are flagged
    repeat_referrals_flag: int = 3

    @classmethod
    def from_env(cls) -> IntakeSettings:
        return cls(
            triage_grid=parse_triage_grid(os.environ.get("POLKU_TRIAGE_GRID") or None),
            default_team=os.environ.get("POLKU_DEFAULT_TEAM", "team-north"),
            repeat_referrals_flag=env_int("POLKU_REPEAT_REFERRALS_FLAG", 3),
        )
