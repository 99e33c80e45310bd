"""Followup's published language: its events, commands, replies and error codes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from contracts.base import SOCIAL_COUNSELLOR, SOCIAL_WORKER, TEAM_LEAD, ClientId, Command, Event, event_union
from contracts.vocabulary import DisappearanceDetection


class ClientDisappeared(Event, kw_only=True):
    """The client could not be reached through the familiar channels."""

    relationship_id: UUID
    client_id: ClientId
    detected_by: DisappearanceDetection
    last_contact: date | None = None


class CheckInDue(Event, kw_only=True):
    """The check-in after an ended relationship is due (Aava: a month after the end, on a working
    day): the own worker contacts the client. ``attempt`` counts the tries, from 1."""

    relationship_id: UUID
    client_id: ClientId
    due: date
    attempt: int


#: How a check-in ended: no further need, a need found (the relationship may reopen), or the
#: client was not reached in the configured number of tries.
CheckInResult = Literal["no_need", "need_found", "unreached"]


class CheckInCompleted(Event, kw_only=True):
    """The check-in after an ended relationship is done; ``no_need`` and ``unreached`` close the
    relationship for good, ``need_found`` is a reason to reopen it."""

    relationship_id: UUID
    client_id: ClientId
    outcome: CheckInResult
    attempts: int


# ------------------------------------------------------------------------------- commands
#: What the worker records of one check-in try.
CheckInOutcome = Literal["no_need", "need_found", "not_reached"]


class CheckInRecorded(msgspec.Struct, frozen=True, kw_only=True):
    """A check-in try was recorded: the relationship, the check-in's state now (``due`` again
    later after ``not_reached``, else ``closed``) and the next due date, if any."""

    ok: Literal[True] = True
    relationship_id: UUID
    state: Literal["retry", "closed"]
    next_due: date | None = None


class RecordCheckIn(Command, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.followup.record_check_in``: the outcome of a due check-in's try."""

    roles: ClassVar[frozenset[str]] = frozenset({SOCIAL_COUNSELLOR, SOCIAL_WORKER, TEAM_LEAD})
    reply: ClassVar[type] = CheckInRecorded

    relationship_id: UUID
    outcome: CheckInOutcome


class ClockAdvanced(msgspec.Struct, frozen=True, kw_only=True):
    """Followup's clock was moved forward: the time it shows now."""

    ok: Literal[True] = True
    now: datetime


class AdvanceClock(Command, kw_only=True, forbid_unknown_fields=True):
    """``polku.cmd.followup.advance_clock``: move followup's clock forward (demo and test mode
    only, ``POLKU_DEMO=1``), so that months pass in seconds."""

    roles: ClassVar[frozenset[str]] = frozenset({TEAM_LEAD})
    reply: ClassVar[type] = ClockAdvanced

    days: Annotated[int, Meta(ge=0, le=3660)] = 0
    hours: Annotated[int, Meta(ge=0, le=24 * 366)] = 0


ERROR_CODES: dict[str, str] = {
    "check_in_not_found": "followup holds no check-in for this relationship",
    "check_in_not_due": "the check-in is not due now (not yet, or closed already)",
    "demo_mode_only": "the clock is moved only in demo and test mode (POLKU_DEMO=1)",
}


#: The union of every event declared above, and its decoder.
FollowupEvent = event_union(__name__)
followup_decoder = msgspec.json.Decoder(FollowupEvent)
