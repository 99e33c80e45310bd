"""Followup's rules: a followed relationship (disappearance, the waiting period, overdue
reviews, assessments and evaluations), the check-in after an ended relationship, a client's
history of coming back, and the clock.

Every deadline is an event of the aggregate it belongs to: ``DeadlineSet`` (an id, the due
date), then ``DeadlineFired`` or ``DeadlineCancelled``. The scheduler fires a deadline only
through the command pipeline (``fire``), and ``fire`` does nothing for a deadline no longer
pending, so a deadline fires once.

Followup dates what it learns from casefile by the event's business time, and what it decides by
its own clock (the system's; ahead of it in demo and test mode).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from polku.domain import Envelope, PolkuAggregate, RuleBroken
from services.followup import workdays
from services.followup.settings import Policy

NAMESPACE = uuid5(NAMESPACE_URL, "https://polku.invalid/followup")


class CheckInNotFound(RuleBroken):
    code = "check_in_not_found"
    field = "relationship_id"


class CheckInNotDue(RuleBroken):
    code = "check_in_not_due"
    field = "relationship_id"


class DemoModeOnly(RuleBroken):
    code = "demo_mode_only"


class FollowedNotFound(RuleBroken):
    code = "followed_relationship_not_found"
    field = "relationship_id"


class RelationshipEnded(RuleBroken):
    code = "relationship_ended"
    field = "relationship_id"


class NotDisappeared(RuleBroken):
    code = "not_disappeared"
    field = "relationship_id"


class AlreadyDisappeared(RuleBroken):
    code = "already_disappeared"
    field = "relationship_id"


class AttemptedInFuture(RuleBroken):
    code = "attempted_in_future"
    field = "attempted_on"


class Forbidden(RuleBroken):
    code = "forbidden"
    field = "actor"


class NotOwnWorkerOrSocialWorker(RuleBroken):
    code = "not_own_worker_or_social_worker"
    field = "actor"


#: contact outcomes that reached the client (a refusal is a contact: the client is not missing)
CONTACT_MADE = frozenset({"reached", "refused"})
#: which failure says most about how the disappearance was detected, most telling first
_DETECTION = (
    ("mail_returned", "mail_returned"),
    ("number_not_in_use", "unreachable_by_phone"),
    ("no_answer", "unreachable_by_phone"),
    ("missed_meeting", "missed_meetings"),
    ("missed_work_activity_day", "missed_meetings"),
)


class Followed(PolkuAggregate):
    """Followup's view of one client relationship: who the own worker is, whether the client can
    be reached, and the deadlines of its assessment, plan reviews and work activity evaluation.

    Deadlines by purpose: ``assessment``, ``review:<plan kind>``, ``evaluation``, ``waiting``
    (the waiting period after a disappearance). An overdue is kept by purpose until cleared.
    """

    @staticmethod
    def id_for(relationship_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"followed:{relationship_id}")

    @classmethod
    def start(cls, env: Envelope, *, relationship_id: UUID, client_id: str, opened_on: date) -> Followed:
        return cls._create(
            cls.Started, id=cls.id_for(relationship_id), env=env.about(client_id),
            relationship_id=relationship_id, opened_on=opened_on,
        )

    @event("Started")
    def __init__(self, *, env: Envelope, relationship_id: UUID, opened_on: date) -> None:
        self.relationship_id = relationship_id
        self.client_id = env.client_id
        self.opened_on = opened_on
        self.ended = False
        self.own_worker: str | None = None
        self.work_pair: str | None = None
        self.team: str | None = None
        self.special_support = False
        #: purpose → (deadline id, due date)
        self.deadlines: dict[str, tuple[str, date]] = {}
        self.deadline_count = 0
        #: purpose → the day it fell due (while overdue)
        self.overdue: dict[str, date] = {}
        #: the failures since the last contact made: (day, what)
        self.failures: list[tuple[date, str]] = []
        self.last_contact: date | None = None
        self.disappeared_on: date | None = None
        self.end_proposed = False
        self.evaluation_on: date | None = None
        self.placement_id: str | None = None
        #: the first day of absence from work activity since the client was last in contact:
        #: the worker's contact task is due from it (None: no absence waits for a contact)
        self.absent_since: date | None = None

    # ---------------------------------------------------------------- queries
    @property
    def state(self) -> str:
        if self.ended:
            return "ended"
        if self.end_proposed:
            return "end_proposed"
        return "disappeared" if self.disappeared_on else "followed"

    def may_act(self, actor: dict[str, Any] | None) -> bool:
        """The own worker, the work pair and the relationship's team (casefile's rule)."""
        if not actor:
            return False
        return actor.get("worker_id") in (self.own_worker, self.work_pair) or (
            self.team is not None and actor.get("team") == self.team
        )

    def must_be_open(self) -> None:
        if self.ended:
            raise RelationshipEnded("the relationship has ended")

    # ------------------------------------------------------- casefile's facts
    def note_worker(self, env: Envelope, *, worker_id: str, team: str, work_pair_id: str | None) -> None:
        self._worker_noted(env, worker_id=worker_id, team=team, work_pair_id=work_pair_id)

    def note_special_support(self, env: Envelope, *, special_support: bool) -> None:
        if special_support != self.special_support:
            self._support_noted(env, special_support=special_support)

    def expect_assessment(self, env: Envelope, *, policy: Any) -> None:
        """The relationship started: its assessment is due within the policy's working days.
        The deadline fires the day after the last of them."""
        last_day = workdays.add_working_days(self.opened_on, policy.assessment_working_days)
        self._set(env, "assessment", last_day + timedelta(days=1))

    def assessment_started(self, env: Envelope, *, today: date) -> None:
        self._cancel(env, "assessment")
        self._clear(env, "assessment", today=today, how="done")

    def plan_updated(self, env: Envelope, *, kind: str, next_review: date, today: date, policy: Any) -> None:
        """A new version of a plan: its review is done, the next one due after ``next_review``.
        A new activation plan on or near the evaluation date is the evaluation."""
        purpose = f"review:{kind}"
        self._cancel(env, purpose)
        self._clear(env, purpose, today=today, how="done")
        if not self.ended:
            self._set(env, purpose, next_review + timedelta(days=1))
        if (
            kind == "activation_plan"
            and self.evaluation_on is not None
            and today >= self.evaluation_on - timedelta(days=policy.evaluation_window_days)
        ):
            self._evaluation_done(env, today=today)

    def work_activity_started(self, env: Envelope, *, placement_id: str, evaluation_on: date) -> None:
        self._cancel(env, "evaluation")
        self._work_activity_noted(env, placement_id=placement_id, evaluation_on=evaluation_on)
        if not self.ended:
            self._set(env, "evaluation", evaluation_on + timedelta(days=1))

    def work_activity_ended(self, env: Envelope, *, today: date) -> None:
        if self.evaluation_on is not None:
            self._evaluation_done(env, today=today)

    def _evaluation_done(self, env: Envelope, *, today: date) -> None:
        self._cancel(env, "evaluation")
        self._clear(env, "evaluation", today=today, how="done")
        self._work_activity_noted(env, placement_id=None, evaluation_on=None)

    def end(self, env: Envelope, *, today: date) -> None:
        """The relationship ended: nothing more is due; its overdues are cleared as not needed."""
        for purpose in list(self.deadlines):
            self._cancel(env, purpose)
        for purpose in list(self.overdue):
            self._clear(env, purpose, today=today, how="relationship_ended")
        self._ended(env)

    def reopen(self, env: Envelope) -> None:
        if self.ended:
            self._reopened(env)

    # --------------------------------------------------------- disappearance
    def meeting_missed(self, env: Envelope, *, on: date, policy: Any) -> None:
        if self.ended:
            return
        self._failure_noted(env, on=on, what="missed_meeting")
        self._judge(env, policy=policy)

    def meeting_held(self, env: Envelope, *, on: date) -> None:
        self._contact_made(env, on=on, by="meeting_held")

    def work_activity_absent(self, env: Envelope, *, on: date, reason: str, policy: Any) -> None:
        """The client was absent from rehabilitative work activity: the worker contacts them, as
        early as possible (seed 003: contact during absences), a task due from the first day
        absent. An unannounced absence is also a failure to reach the client, as a missed
        meeting is (the disappearance policy counts it)."""
        if self.ended:
            return
        self._absence_noted(env, on=on, reason=reason, relationship_id=self.relationship_id)
        if reason == "unannounced":
            self._failure_noted(env, on=on, what="missed_work_activity_day")
            self._judge(env, policy=policy)

    def work_activity_attended(self, env: Envelope, *, on: date) -> None:
        """The client attended a day of work activity: the client was seen (a contact made)."""
        if self.ended:
            return
        self._contact_made(env, on=on, by="work_activity_attended")

    def contact_attempt(
        self, env: Envelope, *, channel: str, outcome: str, on: date, today: date, policy: Any
    ) -> None:
        self.must_be_open()
        if on > today:
            raise AttemptedInFuture("a contact attempt cannot be recorded for a day after today")
        self._contact_attempted(env, channel=channel, outcome=outcome, attempted_on=on,
                                relationship_id=self.relationship_id)
        if outcome in CONTACT_MADE:
            self._contact_made(env, on=on, by=channel)
        else:
            self._failure_noted(env, on=on, what=outcome)
            self._judge(env, policy=policy)

    def report_disappearance(self, env: Envelope, *, last_contact: date | None, today: date, policy: Any) -> None:
        self.must_be_open()
        if self.disappeared_on is not None:
            raise AlreadyDisappeared("the client is counted disappeared already")
        self._disappear(env, detected_by="reported_by_other_authority", last_contact=last_contact or self.last_contact,
                        today=today, policy=policy)

    def request_executive_assistance(self, env: Envelope, *, ground: str) -> None:
        """Asked only by the own worker or a social worker (seed 000 §5.1), on a stated ground."""
        self.must_be_open()
        actor = env.actor or {}
        if actor.get("role") != "social_worker" and actor.get("worker_id") != self.own_worker:
            raise NotOwnWorkerOrSocialWorker(
                "executive assistance is requested only by the own worker or a social worker"
            )
        self._assistance_requested(env, ground=ground, relationship_id=self.relationship_id)

    def _judge(self, env: Envelope, *, policy: Any) -> None:
        """The disappearance policy: so many failures since the last contact, spread over at
        least so many days."""
        if self.disappeared_on is not None or len(self.failures) < policy.disappearance_failures:
            return
        first, last = self.failures[0][0], self.failures[-1][0]
        if (last - first).days < policy.disappearance_min_days:
            return
        seen = {what for _, what in self.failures}
        detected_by = next((d for what, d in _DETECTION if what in seen), "other")
        self._disappear(env, detected_by=detected_by, last_contact=self.last_contact, today=last, policy=policy)

    def _disappear(self, env: Envelope, *, detected_by: str, last_contact: date | None, today: date, policy: Any) -> None:
        self._disappeared(env, detected_by=detected_by, last_contact=last_contact, on=today,
                          relationship_id=self.relationship_id)
        self._set(env, "waiting", today + timedelta(days=policy.waiting_period_days))

    def _contact_made(self, env: Envelope, *, on: date, by: str) -> None:
        if self.absent_since is not None and on >= self.absent_since:
            self._absence_contact_made(env, on=on, by=by, relationship_id=self.relationship_id)
        if self.disappeared_on is not None:
            self._cancel(env, "waiting")
            self._reached(env, reached_on=on, reached_by=by, days_disappeared=max((on - self.disappeared_on).days, 0),
                          relationship_id=self.relationship_id)
        elif self.failures or self.last_contact is None or on > self.last_contact:
            self._contact_noted(env, on=on)

    # ------------------------------------------------------------- deadlines
    def _set(self, env: Envelope, purpose: str, due: date) -> None:
        self._deadline_set(env, deadline_id=f"{self.id}:{self.deadline_count + 1}", purpose=purpose, due=due)

    def _cancel(self, env: Envelope, purpose: str) -> None:
        if purpose in self.deadlines:
            self._deadline_cancelled(env, deadline_id=self.deadlines[purpose][0], purpose=purpose)

    def _clear(self, env: Envelope, purpose: str, *, today: date, how: str) -> None:
        if purpose in self.overdue:
            due = self.overdue[purpose]
            self._overdue_cleared(env, purpose=purpose, due=due, days_late=max((today - due).days, 0), how=how,
                                  relationship_id=self.relationship_id)

    def fire(self, env: Envelope, *, deadline_id: str, policy: Any) -> bool:
        """A deadline fell due; False (nothing happens) for one no longer pending."""
        purpose = next((p for p, (d, _) in self.deadlines.items() if d == deadline_id), None)
        if purpose is None:
            return False
        due = self.deadlines[purpose][1]
        self._deadline_fired(env, deadline_id=deadline_id, purpose=purpose, due=due)
        if purpose == "waiting":
            self._end_proposed(env, disappeared_on=self.disappeared_on, own_worker_id=self.own_worker,
                               relationship_id=self.relationship_id)
        else:  # assessment, evaluation, review:<kind>: overdue from the day before
            self._overdue_noted(
                env, purpose=purpose, due=due - timedelta(days=1),
                working_days=policy.assessment_working_days if purpose == "assessment" else None,
                placement_id=self.placement_id if purpose == "evaluation" else None,
                relationship_id=self.relationship_id,
            )
        return True

    # ----------------------------------------------------------------- events
    @event("WorkerNoted")
    def _worker_noted(self, env: Envelope, *, worker_id: str, team: str, work_pair_id: str | None) -> None:
        self.own_worker, self.team, self.work_pair = worker_id, team, work_pair_id

    @event("SupportNoted")
    def _support_noted(self, env: Envelope, *, special_support: bool) -> None:
        self.special_support = special_support

    @event("WorkActivityNoted")
    def _work_activity_noted(self, env: Envelope, *, placement_id: str | None, evaluation_on: date | None) -> None:
        self.placement_id, self.evaluation_on = placement_id, evaluation_on

    @event("Ended")
    def _ended(self, env: Envelope) -> None:
        self.ended = True
        self.absent_since = None

    @event("AbsenceNoted")
    def _absence_noted(self, env: Envelope, *, on: date, reason: str, relationship_id: UUID) -> None:
        self.absent_since = min(on, self.absent_since) if self.absent_since else on

    @event("AbsenceContactMade")
    def _absence_contact_made(self, env: Envelope, *, on: date, by: str, relationship_id: UUID) -> None:
        self.absent_since = None

    @event("Reopened")
    def _reopened(self, env: Envelope) -> None:
        self.ended = False
        self.failures = []
        self.disappeared_on = None
        self.end_proposed = False

    @event("DeadlineSet")
    def _deadline_set(self, env: Envelope, *, deadline_id: str, purpose: str, due: date) -> None:
        self.deadline_count += 1
        self.deadlines[purpose] = (deadline_id, due)

    @event("DeadlineFired")
    def _deadline_fired(self, env: Envelope, *, deadline_id: str, purpose: str, due: date) -> None:
        del self.deadlines[purpose]

    @event("DeadlineCancelled")
    def _deadline_cancelled(self, env: Envelope, *, deadline_id: str, purpose: str) -> None:
        del self.deadlines[purpose]

    @event("OverdueNoted")
    def _overdue_noted(
        self, env: Envelope, *, purpose: str, due: date, relationship_id: UUID, working_days: int | None,
        placement_id: str | None,
    ) -> None:
        self.overdue[purpose] = due

    @event("OverdueCleared")
    def _overdue_cleared(
        self, env: Envelope, *, purpose: str, due: date, days_late: int, how: str, relationship_id: UUID
    ) -> None:
        del self.overdue[purpose]

    @event("ContactAttempted")
    def _contact_attempted(
        self, env: Envelope, *, channel: str, outcome: str, attempted_on: date, relationship_id: UUID
    ) -> None:
        pass

    @event("FailureNoted")
    def _failure_noted(self, env: Envelope, *, on: date, what: str) -> None:
        self.failures.append((on, what))
        self.failures.sort()

    @event("ContactNoted")
    def _contact_noted(self, env: Envelope, *, on: date) -> None:
        self.failures = []
        self.last_contact = max(on, self.last_contact) if self.last_contact else on

    @event("Disappeared")
    def _disappeared(
        self, env: Envelope, *, detected_by: str, last_contact: date | None, on: date, relationship_id: UUID
    ) -> None:
        self.disappeared_on = on

    @event("Reached")
    def _reached(self, env: Envelope, *, reached_on: date, reached_by: str, days_disappeared: int,
                 relationship_id: UUID) -> None:
        self.disappeared_on = None
        self.end_proposed = False
        self.failures = []
        self.last_contact = reached_on

    @event("EndProposed")
    def _end_proposed(self, env: Envelope, *, disappeared_on: date | None, own_worker_id: str | None,
                      relationship_id: UUID) -> None:
        self.end_proposed = True

    @event("AssistanceRequested")
    def _assistance_requested(self, env: Envelope, *, ground: str, relationship_id: UUID) -> None:
        pass


class ClientHistory(PolkuAggregate):
    """A client's relationships starting over time, for the recurring-client policy (one
    aggregate per pseudonymous client id)."""

    @staticmethod
    def id_for(client_id: str) -> UUID:
        return uuid5(NAMESPACE, f"client:{client_id}")

    @classmethod
    def start(cls, env: Envelope, *, client_id: str) -> ClientHistory:
        return cls._create(cls.Started, id=cls.id_for(client_id), env=env.about(client_id))

    @event("Started")
    def __init__(self, *, env: Envelope) -> None:
        self.client_id = env.client_id
        self.starts: list[date] = []
        self.marked = False

    def relationship_started(self, env: Envelope, *, relationship_id: UUID, on: date, policy: Any) -> None:
        """A relationship of the client opened or opened again: a client whose relationships
        start ``recurring_count`` times within ``recurring_window_days`` is recurring."""
        self._start_noted(env, relationship_id=relationship_id, on=on)
        recent = [d for d in self.starts if (on - d).days < policy.recurring_window_days]
        if not self.marked and len(recent) >= policy.recurring_count:
            self._marked(env, relationship_id=relationship_id, grounds="relationships_restarted", count=len(recent),
                         window_days=policy.recurring_window_days)

    def repeat_referrals(self, env: Envelope, *, referrals: int) -> None:
        if not self.marked:
            self._marked(env, relationship_id=None, grounds="repeat_referrals", count=referrals, window_days=None)

    @event("StartNoted")
    def _start_noted(self, env: Envelope, *, relationship_id: UUID, on: date) -> None:
        self.starts.append(on)

    @event("MarkedRecurring")
    def _marked(self, env: Envelope, *, relationship_id: UUID | None, grounds: str, count: int,
                window_days: int | None) -> None:
        self.marked = True


class CheckIn(PolkuAggregate):
    """The check-in after a relationship ended (one aggregate per relationship; a relationship
    that ends again gets a new round)."""

    @staticmethod
    def id_for(relationship_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"check-in:{relationship_id}")

    @classmethod
    def start(cls, env: Envelope, *, relationship_id: UUID, client_id: str) -> CheckIn:
        return cls._create(
            cls.Started, id=cls.id_for(relationship_id), env=env.about(client_id),
            relationship_id=relationship_id,
        )

    @event("Started")
    def __init__(self, *, env: Envelope, relationship_id: UUID) -> None:
        self.relationship_id = relationship_id
        self.client_id = env.client_id
        self.round = 0
        self.attempt = 0
        #: "scheduled" (a deadline pending), "due" (fired, waiting for the worker), "closed",
        #: "cancelled"; None before the first round
        self.state: str | None = None
        self.pending: tuple[str, date] | None = None
        self.due_on: date | None = None

    # ------------------------------------------------------------------ rules
    def schedule(self, env: Envelope, *, check_in_due: date) -> None:
        """The relationship ended: a new round of check-in, due on ``check_in_due`` moved to
        the next working day."""
        if self.pending is not None:
            self._deadline_cancelled(env, deadline_id=self.pending[0])
        self._round_started(env)
        self._set(env, workdays.on_or_after(check_in_due))

    def _set(self, env: Envelope, due: date) -> None:
        attempt = self.attempt + 1
        self._deadline_set(env, deadline_id=f"{self.id}:{self.round}:{attempt}", due=due, attempt=attempt)

    def fire(self, env: Envelope, *, deadline_id: str) -> bool:
        """The deadline fell due: the check-in is due. False (nothing happens) for a deadline
        no longer pending."""
        if self.pending is None or self.pending[0] != deadline_id:
            return False
        self._deadline_fired(env, deadline_id=deadline_id, due=self.pending[1], attempt=self.attempt,
            relationship_id=self.relationship_id,
        )
        return True

    def cancel(self, env: Envelope) -> None:
        """The relationship was reopened before the check-in: none is needed."""
        if self.pending is not None:
            self._deadline_cancelled(env, deadline_id=self.pending[0])
        elif self.state == "due":
            self._closed_unneeded(env)

    def record(self, env: Envelope, *, outcome: str, today: date, policy: Policy) -> date | None:
        """The worker's outcome of the due check-in's try; the next due date after a try that did
        not reach the client, else None (closed)."""
        if self.state != "due":
            raise CheckInNotDue("the check-in is not due now")
        if outcome == "not_reached":
            if self.attempt < policy.check_in_max_tries:
                due = workdays.on_or_after(today + timedelta(days=policy.check_in_retry_days))
                self._set(env, due)
                return due
            self._completed(env, outcome="unreached", attempts=self.attempt, relationship_id=self.relationship_id)
            return None
        self._completed(env, outcome=outcome, attempts=self.attempt, relationship_id=self.relationship_id)
        return None

    # ----------------------------------------------------------------- events
    @event("RoundStarted")
    def _round_started(self, env: Envelope) -> None:
        self.round += 1
        self.attempt = 0

    @event("DeadlineSet")
    def _deadline_set(self, env: Envelope, *, deadline_id: str, due: date, attempt: int) -> None:
        self.pending = (deadline_id, due)
        self.attempt = attempt
        self.state = "scheduled"

    @event("DeadlineFired")
    def _deadline_fired(
        self, env: Envelope, *, deadline_id: str, due: date, attempt: int, relationship_id: UUID
    ) -> None:
        self.due_on = due
        self.pending = None
        self.state = "due"

    @event("DeadlineCancelled")
    def _deadline_cancelled(self, env: Envelope, *, deadline_id: str) -> None:
        self.pending = None
        self.state = "cancelled"

    @event("ClosedUnneeded")
    def _closed_unneeded(self, env: Envelope) -> None:
        self.state = "cancelled"

    @event("Completed")
    def _completed(self, env: Envelope, *, outcome: str, attempts: int, relationship_id: UUID) -> None:
        self.state = "closed"
        self.outcome = outcome


class Clock(PolkuAggregate):
    """Followup's controllable clock (demo and test mode): how far it runs ahead of the system's."""

    ID = uuid5(NAMESPACE, "clock")

    @classmethod
    def create(cls, env: Envelope) -> Clock:
        return cls._create(cls.Started, id=cls.ID, env=env)

    @event("Started")
    def __init__(self, *, env: Envelope) -> None:
        self.offset_seconds = 0.0

    @event("Advanced")
    def advance(self, env: Envelope, *, seconds: float) -> None:
        self.offset_seconds += seconds


class TasksView(PolkuAggregate):
    """One read of the list of due tasks (followup's usage log): which relationships and clients
    it showed, why, and whose tasks. Who read it and when are the envelope's."""

    @event("Viewed")
    def __init__(
        self, *, env: Envelope, purpose: str, scope: str, items: int, relationship_ids: list[UUID],
        client_ids: list[str],
    ) -> None:
        self.purpose = purpose

    @classmethod
    def record(
        cls, view_id: UUID, env: Envelope, *, purpose: str, scope: str, items: int, relationship_ids: list[UUID],
        client_ids: list[str],
    ) -> TasksView:
        return cls._create(
            cls.Viewed, id=view_id, env=env, purpose=purpose, scope=scope, items=items,
            relationship_ids=relationship_ids, client_ids=client_ids,
        )
