"""Followup's own settings, read from the environment by :meth:`FollowupSettings.from_env`.
Every rule has a documented default; an organisation sets its own.

Disappearance (seed 000 §5.1):

``POLKU_DISAPPEARANCE_FAILURES`` (default 3): failed contacts and missed meetings, since the
last time the client was reached, before the client counts as disappeared ...
``POLKU_DISAPPEARANCE_MIN_DAYS`` (default 14): ... spread over at least this many days.
``POLKU_WAITING_PERIOD_DAYS`` (default 30): after a disappearance, how long to wait before
followup proposes ending the relationship (``EndProposed``; the own worker decides).

Deadlines:

``POLKU_ASSESSMENT_WORKING_DAYS`` (default 7, the SHL 36 § figure for some groups): the service
need assessment is to start within this many working days of the relationship's start.
``POLKU_EVALUATION_WINDOW_DAYS`` (default 14): a new version of the activation plan made this
many days before a work activity period's evaluation date, or later, is its evaluation.

The one-month check-in (Aava):

``POLKU_CHECK_IN_RETRY_DAYS`` (default 7): after a check-in try that did not reach the client,
the next try is due this many days later (moved to a working day).
``POLKU_CHECK_IN_MAX_TRIES`` (default 3): after this many tries without reaching the client the
check-in is closed as unreached.

Recurring clients:

``POLKU_RECURRING_COUNT`` (default 3): a client whose relationships start (open or reopen) this
many times ...
``POLKU_RECURRING_WINDOW_DAYS`` (default 365): ... within this many days is marked recurring.

``POLKU_FOLLOWUP_TICK_SECONDS`` (default 1): how often the scheduler looks for due deadlines.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from polku.settings import SettingsError, env_float, env_int


@dataclass(frozen=True)
class Policy:
    disappearance_failures: int = 3
    disappearance_min_days: int = 14
    waiting_period_days: int = 30
    assessment_working_days: int = 7
    evaluation_window_days: int = 14
    check_in_retry_days: int = 7
    check_in_max_tries: int = 3
    recurring_count: int = 3
    recurring_window_days: int = 365


#: each rule's variable, and its least allowed value
_VARIABLES = {
    "disappearance_failures": ("POLKU_DISAPPEARANCE_FAILURES", 1),
    "disappearance_min_days": ("POLKU_DISAPPEARANCE_MIN_DAYS", 0),
    "waiting_period_days": ("POLKU_WAITING_PERIOD_DAYS", 0),
    "assessment_working_days": ("POLKU_ASSESSMENT_WORKING_DAYS", 1),
    "evaluation_window_days": ("POLKU_EVALUATION_WINDOW_DAYS", 0),
    "check_in_retry_days": ("POLKU_CHECK_IN_RETRY_DAYS", 1),
    "check_in_max_tries": ("POLKU_CHECK_IN_MAX_TRIES", 1),
    "recurring_count": ("POLKU_RECURRING_COUNT", 2),
    "recurring_window_days": ("POLKU_RECURRING_WINDOW_DAYS", 1),
}


@dataclass(frozen=True)
class FollowupSettings:
    policy: Policy = Policy()
    tick_seconds: float = 1.0

    @classmethod
    def from_env(cls) -> FollowupSettings:
        default = Policy()
        values: dict[str, int] = {}
        for f in fields(Policy):
            variable, least = _VARIABLES[f.name]
            value = env_int(variable, getattr(default, f.name))
            if value < least:
                raise SettingsError(f"{variable} must be at least {least}")
            values[f.name] = value
        tick = env_float("POLKU_FOLLOWUP_TICK_SECONDS", 1.0)
        if tick <= 0:
            raise SettingsError("POLKU_FOLLOWUP_TICK_SECONDS must be above 0")
        return cls(policy=Policy(**values), tick_seconds=tick)
