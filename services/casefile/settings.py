"""Casefile's own settings, read from the environment by :meth:`CasefileSettings.from_env`.

The policy values (``services.casefile.domain.Policy``): the bounds of rehabilitative work
activity as the Aava model cites the act (KTTL), the Aava rule of at least two options at the
first activation meeting, the days to the check-in and the end reasons that need none, and the
activity allowance and travel compensation a realised day of work activity (in cents). The law has changed since, so they are
configuration. What every service runs on (NATS, store, keys, the roster) is the runtime's
:class:`polku.settings.Settings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import os
from typing import get_args

from contracts.vocabulary import EndReason
from polku.settings import SettingsError, env_float, env_int
from services.casefile.domain import Policy


@dataclass(frozen=True)
class CasefileSettings:
    policy: Policy = field(default_factory=Policy)

    @classmethod
    def from_env(cls) -> CasefileSettings:
        default = Policy()
        return cls(
            policy=Policy(
                activation_min_options=env_int("POLKU_ACTIVATION_MIN_OPTIONS", default.activation_min_options),
                work_activity_min_months=env_int("POLKU_WORK_ACTIVITY_MIN_MONTHS", default.work_activity_min_months),
                work_activity_max_months=env_int("POLKU_WORK_ACTIVITY_MAX_MONTHS", default.work_activity_max_months),
                work_activity_min_days=env_int("POLKU_WORK_ACTIVITY_MIN_DAYS", default.work_activity_min_days),
                work_activity_max_days=env_int("POLKU_WORK_ACTIVITY_MAX_DAYS", default.work_activity_max_days),
                work_activity_min_hours=env_float("POLKU_WORK_ACTIVITY_MIN_HOURS", default.work_activity_min_hours),
                familiarisation_max_days=env_int("POLKU_FAMILIARISATION_MAX_DAYS", default.familiarisation_max_days),
                check_in_after_days=env_int("POLKU_CHECK_IN_AFTER_DAYS", default.check_in_after_days),
                activity_allowance_cents=env_int("POLKU_ACTIVITY_ALLOWANCE_CENTS", default.activity_allowance_cents),
                travel_compensation_cents=env_int(
                    "POLKU_TRAVEL_COMPENSATION_CENTS", default.travel_compensation_cents
                ),
                no_check_in_reasons=_end_reasons("POLKU_NO_CHECK_IN_REASONS", default.no_check_in_reasons),
            )
        )


def _end_reasons(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """End reasons, comma-separated (``none``: no reason skips the check-in), or ``default`` when
    unset or empty; an unknown reason is a :class:`SettingsError`."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    if raw.strip() == "none":
        return ()
    reasons = tuple(dict.fromkeys(r.strip() for r in raw.split(",") if r.strip()))
    unknown = [r for r in reasons if r not in get_args(EndReason)]
    if unknown:
        raise SettingsError(f"{name}: {', '.join(unknown)} is not an end reason ({', '.join(get_args(EndReason))})")
    return reasons
