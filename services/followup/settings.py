"""Followup's own settings, read from the environment by :meth:`FollowupSettings.from_env`.

``POLKU_CHECK_IN_RETRY_DAYS`` (default 7): after a check-in try that did not reach the client,
the next try is due this many days later (moved to a working day).
``POLKU_CHECK_IN_MAX_TRIES`` (default 3): after this many tries without reaching the client the
check-in is closed as unreached.
``POLKU_FOLLOWUP_TICK_SECONDS`` (default 1): how often the scheduler looks for due deadlines.
"""

from __future__ import annotations

from dataclasses import dataclass

from polku.settings import SettingsError, env_float, env_int


@dataclass(frozen=True)
class Policy:
    check_in_retry_days: int = 7
    check_in_max_tries: int = 3


@dataclass(frozen=True)
class FollowupSettings:
    policy: Policy = Policy()
    tick_seconds: float = 1.0

    @classmethod
    def from_env(cls) -> FollowupSettings:
        default = Policy()
        policy = Policy(
            check_in_retry_days=env_int("POLKU_CHECK_IN_RETRY_DAYS", default.check_in_retry_days),
            check_in_max_tries=env_int("POLKU_CHECK_IN_MAX_TRIES", default.check_in_max_tries),
        )
        if policy.check_in_retry_days < 1:
            raise SettingsError("POLKU_CHECK_IN_RETRY_DAYS must be at least 1")
        if policy.check_in_max_tries < 1:
            raise SettingsError("POLKU_CHECK_IN_MAX_TRIES must be at least 1")
        tick = env_float("POLKU_FOLLOWUP_TICK_SECONDS", 1.0)
        if tick <= 0:
            raise SettingsError("POLKU_FOLLOWUP_TICK_SECONDS must be above 0")
        return cls(policy=policy, tick_seconds=tick)
