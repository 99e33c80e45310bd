"""Followup's use cases and policies: what the table runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import msgspec

from contracts import casefile as cf
from contracts import followup as c
from contracts.intake import RepeatReferralsFlagged
from polku.roster import Roster
from polku.settings import RosterEntry
from polku.store import ServiceApplication
from polku.unit_of_work import UnitOfWork
from services.followup.domain import (
    CheckIn,
    CheckInNotFound,
    ClientHistory,
    Clock,
    DemoModeOnly,
    Followed,
    FollowedNotFound,
    Forbidden,
    TasksView,
)
from services.followup.projections import ClockOffset, DueIndex, Tasks
from services.followup.settings import Policy

#: the time zone of the working days and of the dates deadlines fall due on
HELSINKI = ZoneInfo("Europe/Helsinki")


class Fired(msgspec.Struct, frozen=True, kw_only=True):
    """What firing a deadline did (stored as the reply of its idempotency record)."""

    deadline_id: str
    fired: bool


class FireDeadline(msgspec.Struct, frozen=True, kw_only=True):
    """The scheduler's internal command: fire one deadline. Never on the bus."""

    reply: ClassVar[type] = Fired

    deadline_id: str
    aggregate_id: UUID


#: the ids a policy logs about the event it handled
LogIds = dict[str, str]


class FollowupApplication(ServiceApplication):
    name = "followup"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        roster: tuple[RosterEntry, ...] = (),
        policy: Policy | None = None,
        demo: bool = False,
        system_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        super().__init__(env)
        self.policy = policy or Policy()
        self.demo = demo
        self._system_clock = system_clock
        #: who may act: the configured roster (the one intake seeds from), then intake's changes
        self.roster = Roster(roster)
        self.due_index = DueIndex()
        self.clock_offset = ClockOffset()
        self.tasks = Tasks()
        self.follow(self.due_index, self.clock_offset, self.tasks, self.roster, progress=progress)

    # ------------------------------------------------------------------ the clock
    def now(self) -> datetime:
        """The system clock; in demo and test mode moved ahead by what ``advance_clock`` added."""
        now = self._system_clock()
        if self.demo:
            now += timedelta(seconds=self.clock_offset.seconds)
        return now

    def today(self) -> date:
        return self.now().astimezone(HELSINKI).date()

    def day_of(self, occurred_at: datetime) -> date:
        """The day another service's event happened, by its business time. In demo and test mode
        followup's clock runs ahead of the others', so what they report happens today by it."""
        day = occurred_at.astimezone(HELSINKI).date()
        return max(day, self.today()) if self.demo else day

    def roster_role(self, worker_id: str) -> tuple[str, str] | None:
        return self.roster.get(worker_id)

    # --------------------------------------------------------------- commands
    def advance_clock(self, uow: UnitOfWork, cmd: c.AdvanceClock) -> c.ClockAdvanced:
        if not self.demo:
            raise DemoModeOnly("the clock is moved only in demo and test mode (POLKU_DEMO=1)")
        clock = uow.get(Clock, Clock.ID) or Clock.create(uow.env)
        seconds = timedelta(days=cmd.days, hours=cmd.hours).total_seconds()
        clock.advance(uow.env, seconds=seconds)
        uow.add(clock)
        return c.ClockAdvanced(now=self.now() + timedelta(seconds=seconds))

    def record_check_in(self, uow: UnitOfWork, cmd: c.RecordCheckIn) -> c.CheckInRecorded:
        check_in = uow.get(CheckIn, CheckIn.id_for(cmd.relationship_id))
        if check_in is None:
            raise CheckInNotFound("followup holds no check-in for this relationship")
        next_due = check_in.record(uow.env, outcome=cmd.outcome, today=self.today(), policy=self.policy)
        return c.CheckInRecorded(
            relationship_id=cmd.relationship_id, state="retry" if next_due else "closed", next_due=next_due
        )

    def _acting_on(self, uow: UnitOfWork, relationship_id: UUID) -> Followed:
        followed = uow.get(Followed, Followed.id_for(relationship_id))
        if followed is None:
            raise FollowedNotFound("followup follows no relationship with this id", "relationship_id")
        if not followed.may_act(uow.env.actor):
            raise Forbidden("only the own worker, the work pair and the relationship's team may act on it")
        return followed

    @staticmethod
    def _accepted(followed: Followed) -> c.FollowupAccepted:
        return c.FollowupAccepted(
            relationship_id=followed.relationship_id, state=followed.state,  # type: ignore[arg-type]
            disappeared=followed.disappeared_on is not None,
        )

    def record_contact_attempt(self, uow: UnitOfWork, cmd: c.RecordContactAttempt) -> c.FollowupAccepted:
        followed = self._acting_on(uow, cmd.relationship_id)
        today = self.today()
        followed.contact_attempt(
            uow.env, channel=cmd.channel, outcome=cmd.outcome, on=cmd.attempted_on or today, today=today,
            policy=self.policy,
        )
        return self._accepted(followed)

    def report_disappearance(self, uow: UnitOfWork, cmd: c.ReportDisappearance) -> c.FollowupAccepted:
        followed = self._acting_on(uow, cmd.relationship_id)
        followed.report_disappearance(uow.env, last_contact=cmd.last_contact, today=self.today(), policy=self.policy)
        return self._accepted(followed)

    def request_executive_assistance(
        self, uow: UnitOfWork, cmd: c.RequestExecutiveAssistance
    ) -> c.FollowupAccepted:
        followed = self._acting_on(uow, cmd.relationship_id)
        followed.request_executive_assistance(uow.env, ground=cmd.ground)
        return self._accepted(followed)

    def read_due(self, uow: UnitOfWork, q: c.DueQuery) -> c.DueTasks:
        """``polku.qry.followup.due``, logged: the read stores which relationships it showed."""
        actor = uow.env.actor or {}
        today = self.today()
        tasks = self.tasks.due_for(
            worker_id=actor.get("worker_id", ""), team=actor.get("team"), scope=q.scope, today=today, limit=q.limit
        )
        relationship_ids = list(dict.fromkeys(t.relationship_id for t in tasks))
        client_ids = list(dict.fromkeys(t.client_id for t in tasks))
        uow.add(
            TasksView.record(
                uuid4(), uow.env, purpose=q.purpose, scope=q.scope, items=len(tasks), relationship_ids=relationship_ids,
                client_ids=client_ids,
            )
        )
        return c.DueTasks(today=today, tasks=tasks)

    # --------------------------------------------------------------- internal
    def fire_deadline(self, uow: UnitOfWork, cmd: FireDeadline) -> Fired:
        kind = self.due_index.kind_of(cmd.aggregate_id)
        aggregate = uow.get(kind, cmd.aggregate_id)
        if aggregate is None:
            fired = False
        elif isinstance(aggregate, Followed):
            fired = aggregate.fire(uow.env, deadline_id=cmd.deadline_id, policy=self.policy)
        else:
            fired = aggregate.fire(uow.env, deadline_id=cmd.deadline_id)
        return Fired(deadline_id=cmd.deadline_id, fired=fired)

    # ---------------------------------------------------------------- policies
    def _followed(self, uow: UnitOfWork, e: Any) -> Followed:
        """The relationship the event is about, followed from its start (or from now, for one
        that opened before followup followed casefile)."""
        followed = uow.get(Followed, Followed.id_for(e.relationship_id))
        if followed is None:
            followed = Followed.start(
                uow.env, relationship_id=e.relationship_id, client_id=str(e.client_id), opened_on=self.day_of(e.occurred_at)
            )
            uow.add(followed)
        return followed

    def _history(self, uow: UnitOfWork, client_id: str) -> ClientHistory:
        history = uow.get(ClientHistory, ClientHistory.id_for(client_id))
        if history is None:
            history = ClientHistory.start(uow.env, client_id=client_id)
            uow.add(history)
        return history

    @staticmethod
    def _ids(e: Any) -> LogIds:
        return {"relationship_id": str(e.relationship_id)}

    def relationship_opened(self, uow: UnitOfWork, e: cf.RelationshipOpened) -> LogIds:
        """A relationship opened: its assessment is due within the policy's working days, and the
        client's history counts one more start."""
        if Followed.id_for(e.relationship_id) in uow:
            return self._ids(e)  # redelivered
        followed = self._followed(uow, e)
        followed.expect_assessment(uow.env, policy=self.policy)
        self._history(uow, str(e.client_id)).relationship_started(
            uow.env, relationship_id=e.relationship_id, on=followed.opened_on, policy=self.policy
        )
        return self._ids(e)

    def own_worker_named(self, uow: UnitOfWork, e: cf.OwnWorkerNamed) -> LogIds:
        self._followed(uow, e).note_worker(uow.env, worker_id=e.worker_id, team=e.team, work_pair_id=e.work_pair_id)
        return self._ids(e)

    def special_support_determined(self, uow: UnitOfWork, e: cf.SpecialSupportNeedDetermined) -> LogIds:
        self._followed(uow, e).note_special_support(uow.env, special_support=e.special_support)
        return self._ids(e)

    def assessment_started(self, uow: UnitOfWork, e: cf.AssessmentStarted) -> LogIds:
        self._followed(uow, e).assessment_started(uow.env, today=self.day_of(e.occurred_at))
        return self._ids(e)

    def plan_updated(self, uow: UnitOfWork, e: cf.PlanUpdated) -> LogIds:
        self._followed(uow, e).plan_updated(
            uow.env, kind=e.kind, next_review=e.next_review, today=self.day_of(e.occurred_at), policy=self.policy
        )
        return self._ids(e)

    def work_activity_started(self, uow: UnitOfWork, e: cf.WorkActivityStarted) -> LogIds:
        self._followed(uow, e).work_activity_started(uow.env, placement_id=e.placement_id, evaluation_on=e.evaluation_on)
        return self._ids(e)

    def work_activity_ended(self, uow: UnitOfWork, e: cf.WorkActivityEnded) -> LogIds:
        self._followed(uow, e).work_activity_ended(uow.env, today=self.day_of(e.occurred_at))
        return self._ids(e)

    def meeting_missed(self, uow: UnitOfWork, e: cf.MeetingMissed) -> LogIds:
        self._followed(uow, e).meeting_missed(uow.env, on=self.day_of(e.occurred_at), policy=self.policy)
        return self._ids(e)

    def meeting_held(self, uow: UnitOfWork, e: cf.MeetingHeld) -> LogIds:
        self._followed(uow, e).meeting_held(uow.env, on=self.day_of(e.occurred_at))
        return self._ids(e)

    def work_activity_absent(self, uow: UnitOfWork, e: cf.WorkActivityAbsent) -> LogIds:
        """An absence from work activity: a contact task for the worker (the day of absence)."""
        self._followed(uow, e).work_activity_absent(uow.env, on=e.day, reason=e.reason, policy=self.policy)
        return self._ids(e)

    def work_activity_attended(self, uow: UnitOfWork, e: cf.WorkActivityAttended) -> LogIds:
        self._followed(uow, e).work_activity_attended(uow.env, on=e.day)
        return self._ids(e)

    def repeat_referrals_flagged(self, uow: UnitOfWork, e: RepeatReferralsFlagged) -> dict[str, str]:
        """Intake flagged repeated referrals about the client: a recurring client."""
        self._history(uow, str(e.client_id)).repeat_referrals(uow.env, referrals=e.referrals)
        return {"referral_id": str(e.referral_id)}

    def relationship_ended(self, uow: UnitOfWork, e: cf.RelationshipEnded) -> LogIds:
        """Casefile ended a relationship: nothing more is due but its check-in, which becomes a
        deadline (none without a date, e.g. for a client who died)."""
        followed = self._followed(uow, e)
        if not followed.ended:
            followed.end(uow.env, today=self.day_of(e.occurred_at))
        if e.check_in_due is None:
            return self._ids(e)
        check_in = uow.get(CheckIn, CheckIn.id_for(e.relationship_id))
        if check_in is None:
            check_in = CheckIn.start(uow.env, relationship_id=e.relationship_id, client_id=str(e.client_id))
            uow.add(check_in)
        check_in.schedule(uow.env, check_in_due=e.check_in_due)
        return self._ids(e)

    def relationship_reopened(self, uow: UnitOfWork, e: cf.RelationshipReopened) -> LogIds:
        """The client came back: followed again, one more start in the client's history, and
        the check-in is not needed."""
        followed = self._followed(uow, e)
        if followed.ended:
            followed.reopen(uow.env)
            self._history(uow, str(e.client_id)).relationship_started(
                uow.env, relationship_id=e.relationship_id, on=self.day_of(e.occurred_at), policy=self.policy
            )
        check_in = uow.get(CheckIn, CheckIn.id_for(e.relationship_id))
        if check_in is not None:
            check_in.cancel(uow.env)
        return self._ids(e)


def summary(app: FollowupApplication) -> dict[str, Any]:
    with app.due_index.lock:
        return {"pending": len(app.due_index.pending)}
