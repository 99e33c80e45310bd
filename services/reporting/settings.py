"""Reporting's own settings, read from the environment by :meth:`ReportingSettings.from_env`.

The indicator snapshots on the REPORTING stream:

``POLKU_SUPPRESSION_THRESHOLD`` (default 5, at least 2): a published cell counting fewer than
this many (but more than none) is suppressed, and so is what would let it be derived.
``POLKU_REPORTING_TICK_SECONDS`` (default 60; 2 in demo and test mode, ``POLKU_DEMO=1``): how
often reporting looks for closed days and months to publish, and recomputes the recent ones.
``POLKU_REPORTING_CORRECTION_DAYS`` (default 7, at least 0): how many of the latest closed days
(and the latest closed month) are recomputed at every tick; one whose figures changed (events
that arrived late) is published again as a correction that names the snapshot it replaces.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from polku.settings import SettingsError, env_float, env_int

DEFAULT_THRESHOLD = 5
#: a threshold below 2 would publish single clients
LEAST_THRESHOLD = 2


@dataclass(frozen=True)
class ReportingSettings:
    threshold: int = DEFAULT_THRESHOLD
    tick_seconds: float = 60.0
    correction_days: int = 7

    @classmethod
    def from_env(cls, demo: bool | None = None) -> ReportingSettings:
        if demo is None:
            demo = os.environ.get("POLKU_DEMO", "").strip() == "1"
        threshold = env_int("POLKU_SUPPRESSION_THRESHOLD", DEFAULT_THRESHOLD)
        if threshold < LEAST_THRESHOLD:
            raise SettingsError(f"POLKU_SUPPRESSION_THRESHOLD must be at least {LEAST_THRESHOLD}")
        tick = env_float("POLKU_REPORTING_TICK_SECONDS", 2.0 if demo else 60.0)
        if tick <= 0:
            raise SettingsError("POLKU_REPORTING_TICK_SECONDS must be above 0")
        correction_days = env_int("POLKU_REPORTING_CORRECTION_DAYS", 7)
        if correction_days < 0:
            raise SettingsError("POLKU_REPORTING_CORRECTION_DAYS must be at least 0")
        return cls(threshold=threshold, tick_seconds=tick, correction_days=correction_days)
