"""Casefile's use cases: a command's plain values into the relationship, a reply out.

Each use case is ``(self, uow, command) -> CasefileAccepted``: it reads the relationship through
the unit of work, checks that the acting worker may act on it (the own worker, the work pair,
the relationship's team), calls the aggregate with ``uow.env`` and returns the relationship's
version after the command. The command pipeline decodes, checks the command id, commits in
groups and replies (see ``handlers.py`` for the table). Nothing is stored when a rule is broken.

Reads of a client's record are logged: each records a :class:`RecordView` (published as the
audit event ClientRecordViewed), whether access was granted or refused. Routed referrals from
intake open relationships (:meth:`CasefileApplication.referral_routed`, a policy run by the
runtime's consumer with its tracking record).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, get_args
from uuid import UUID, uuid4

from contracts import casefile as cmd
from contracts.base import encoder
from contracts.followup import CheckInCompleted, ClientDisappeared, ClientMarkedRecurring, ClientReached
from contracts.intake import ReferralRouted
from contracts.vocabulary import ClientInformedOf
from polku.roster import Roster
from polku.settings import RosterEntry
from polku.store import ServiceApplication, keyed_id
from polku.unit_of_work import UnitOfWork
from services.casefile import publishing
from services.casefile.domain import (
    ActivationRecord,
    ClientHasOpenRelationship,
    Forbidden,
    Measure,
    PlanContent,
    Policy,
    RecordProbe,
    RecordView,
    ReferralAttachment,
    Relationship,
    RelationshipNotFound,
    UnknownWorker,
    WorkActivityPeriod,
)
from services.casefile.projections import Relationships

#: What a client is told, in the vocabulary's order (the state lists them so)
CLIENT_INFORMED_OF: tuple[str, ...] = get_args(ClientInformedOf)
#: the largest version a store holds (SQLite's INTEGER and PostgreSQL's bigint: 64-bit signed)
MAX_VERSION = 2**63 - 1


def relationship_id_for(referral_id: UUID, secret: str) -> UUID:
    """The relationship a referral opens; a redelivered referral finds the one it opened. Keyed
    with ``secret`` (the pseudonym key; :func:`polku.store.keyed_id`): nobody computes it from
    the referral id without the key."""
    return keyed_id(secret, "casefile/relationship", str(referral_id))


def attachment_id_for(referral_id: UUID, secret: str) -> UUID:
    """Where a referral attached to another's relationship records that it went there
    (:class:`ReferralAttachment`), keyed like :func:`relationship_id_for`."""
    return keyed_id(secret, "casefile/referral-attachment", str(referral_id))


class CasefileApplication(ServiceApplication):
    name = "casefile"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        roster: tuple[RosterEntry, ...],
        id_secret: str,
        policy: Policy | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        super().__init__(env)
        self.id_secret = id_secret  # keys the ids casefile makes (relationship, decision, meeting, disclosure)
        self.policy = policy or Policy()
        self.relationships = Relationships(lambda rid, version: self.repository.get(rid, version=version))
        #: who may act: the configured roster (the one intake seeds from), then intake's changes
        self.roster = Roster(roster)
        self.follow(self.relationships, self.roster, progress=progress)

    # ------------------------------------------------------------ read model
    @property
    def caseload(self) -> Counter[str]:
        """Open relationships per own worker."""
        return self.relationships.caseload

    @property
    def open_by_client(self) -> dict[str, UUID]:
        return self.relationships.open_by_client

    def summary(self, q: cmd.SummaryQuery | None = None) -> cmd.CasefileSummary:
        """``polku.qry.casefile.summary``: open relationships by nature, ended ones by end reason
        (counts)."""
        return self.relationships.summary()

    # --------------------------------------------------------------- reading
    def _relationship(self, uow: UnitOfWork, relationship_id: UUID) -> Relationship:
        relationship = uow.get(Relationship, relationship_id)
        if relationship is None:
            raise RelationshipNotFound("no relationship has this id", "relationship_id")
        return relationship

    @staticmethod
    def may_access(actor: dict[str, str] | None, relationship: Relationship) -> bool:
        """The own worker, the work pair and the relationship's team may read and act on it.
        ``actor`` is the envelope's: the worker the pipeline established, with the roster's team."""
        if not actor:
            return False
        return actor.get("worker_id") in (relationship.own_worker, relationship.work_pair) or (
            relationship.team is not None and actor.get("team") == relationship.team
        )

    def _acting_on(self, uow: UnitOfWork, c: cmd.CasefileCommand) -> Relationship:
        relationship = self._relationship(uow, c.relationship_id)
        if not self.may_access(uow.env.actor, relationship):
            raise Forbidden("only the own worker, the work pair and the relationship's team may act on it", "actor")
        return relationship

    def roster_role(self, worker_id: str) -> tuple[str, str] | None:
        """The role and team of a worker on the roster (the pipeline's acting worker), or None."""
        return self.roster.get(worker_id)

    def _worker(self, worker_id: str, field: str) -> RosterEntry:
        found = self.roster.get(worker_id)
        if found is None:
            raise UnknownWorker("the worker is not on the roster", field)
        return RosterEntry(worker_id, found[0], found[1])

    def _open_relationship_of(self, uow: UnitOfWork, client_id: str) -> UUID | None:
        """The client's open relationship: one opened, reopened or ended by earlier work of the
        same batch (not projected yet) counts before the read model."""
        in_batch = [a for a in uow.batch.values() if isinstance(a, Relationship) and a.client_id == client_id]
        for relationship in in_batch:
            if not relationship.ended:
                return relationship.id
        with self.relationships.lock:
            open_id = self.relationships.open_by_client.get(client_id)
        if open_id is not None and any(a.id == open_id for a in in_batch):
            return None  # it ended in this batch
        return open_id

    def _keyed(self, kind: str, rel: Relationship, uow: UnitOfWork) -> UUID:
        """The id of what a command creates on a relationship: the same for a retry, and not
        computable from the caller's command id."""
        return keyed_id(self.id_secret, f"casefile/{kind}", str(rel.id), str(uow.env.causation_id))

    @staticmethod
    def _accepted(relationship: Relationship, **ids: Any) -> cmd.CasefileAccepted:
        return cmd.CasefileAccepted(relationship_id=relationship.id, version=relationship.version, **ids)

    # ------------------------------------------------------------- use cases
    def name_own_worker(self, uow: UnitOfWork, c: cmd.NameOwnWorker) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        worker = self._worker(c.worker_id, "worker_id")
        pair = self._worker(c.work_pair_id, "work_pair_id") if c.work_pair_id else None
        rel.name_own_worker(
            uow.env, worker_id=worker.worker_id, role=worker.role, team=worker.team,
            work_pair_id=pair.worker_id if pair else None, work_pair_role=pair.role if pair else None,
            reason=c.reason, health_care_pair_id=c.health_care_pair_id,
            health_care_pair_profession=c.health_care_pair_profession,
        )
        return self._accepted(rel)

    def determine_special_support_need(
        self, uow: UnitOfWork, c: cmd.DetermineSpecialSupportNeed
    ) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        rel.determine_special_support_need(
            uow.env, special_support=c.special_support, grounds=list(c.grounds), grounds_text=c.grounds_text
        )
        return self._accepted(rel)

    def start_assessment(self, uow: UnitOfWork, c: cmd.StartAssessment) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        rel.start_assessment(uow.env, family_participates=c.family_participates)
        return self._accepted(rel)

    def complete_assessment(self, uow: UnitOfWork, c: cmd.CompleteAssessment) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        rel.complete_assessment(uow.env, conclusion=c.conclusion, summary=c.summary, policy=self.policy)
        return self._accepted(rel)

    def determine_nature(self, uow: UnitOfWork, c: cmd.DetermineNature) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        rel.determine_nature(uow.env, nature=c.nature)
        return self._accepted(rel)

    def update_plan(self, uow: UnitOfWork, c: cmd.UpdatePlan) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        content = PlanContent(
            strengths=tuple(c.strengths),
            support_needed=tuple(c.support_needed),
            goals=tuple(c.goals),
            measures=tuple(Measure(m.text, m.responsible) for m in c.measures),
            meetings=c.meetings,
            client_view=c.client_view,
            dissent=c.dissent,
            education=c.education_text,
            work_history=c.work_history_text,
            earlier_plans=c.earlier_plans_text,
        )
        record = ActivationRecord(
            education=c.education, work_history=c.work_history, earlier_plans=c.earlier_plans,
            participants=tuple(sorted(set(c.participants))), client_notified_on=c.client_notified_on,
        )
        version = rel.update_plan(
            uow.env, kind=c.kind, content=content, next_review=c.next_review, valid_until=c.valid_until,
            client_dissents=c.client_dissents, options_offered=list(c.options_offered),
            chosen_option=c.chosen_option, all_options_refused=c.all_options_refused,
            consequences_told=c.consequences_told, further_offered=list(c.further_options_offered),
            further_chosen_option=c.further_chosen_option, record=record, policy=self.policy,
        )
        return self._accepted(rel, plan_version=version)

    def record_familiarisation_visit(
        self, uow: UnitOfWork, c: cmd.RecordFamiliarisationVisit
    ) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        rel.record_familiarisation_visit(uow.env, option=c.option, visited_on=c.visited_on)
        return self._accepted(rel)

    def start_work_activity(self, uow: UnitOfWork, c: cmd.StartWorkActivity) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        period = WorkActivityPeriod(
            placement_id=c.placement_id, days_per_week=c.days_per_week, hours_per_day=c.hours_per_day,
            starts_on=c.starts_on, ends_on=c.ends_on, familiarisation_until=c.familiarisation_until,
            evaluation_on=c.evaluation_on, instructor=c.instructor,
        )
        rel.start_work_activity(uow.env, period, shop_steward_notified=c.shop_steward_notified, policy=self.policy)
        return self._accepted(rel)

    def record_attendance(self, uow: UnitOfWork, c: cmd.RecordAttendance) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        rel.record_attendance(
            uow.env, day=c.day, attended=c.attended, absence_reason=c.absence_reason, reported_by=c.reported_by
        )
        return self._accepted(rel)

    def end_work_activity(self, uow: UnitOfWork, c: cmd.EndWorkActivity) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        rel.end_work_activity(uow.env, reason=c.reason)
        return self._accepted(rel)

    def make_decision(self, uow: UnitOfWork, c: cmd.MakeDecision) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        decision_id = self._keyed("decision", rel, uow)
        rel.make_decision(
            uow.env, decision_id=decision_id, kind=c.kind, granted=c.granted,
            appeal_instructions_given=c.appeal_instructions_given, secures_care=c.secures_care,
            grounds_text=c.grounds_text, outcome=c.decided, client_heard=c.client_heard,
        )
        return self._accepted(rel, decision_id=decision_id)

    def decide_on_relationship(self, uow: UnitOfWork, c: cmd.DecideOnRelationship) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        decision_id = self._keyed("decision", rel, uow)
        rel.decide_on_relationship(
            uow.env, decision_id=decision_id, outcome=c.outcome, appeal_instructions_given=c.appeal_instructions_given,
            client_heard=c.client_heard, secures_care=c.secures_care, grounds_text=c.grounds_text,
        )
        return self._accepted(rel, decision_id=decision_id)

    def schedule_meeting(self, uow: UnitOfWork, c: cmd.ScheduleMeeting) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        meeting_id = self._keyed("meeting", rel, uow)
        rel.schedule_meeting(
            uow.env, meeting_id=meeting_id, kind=c.kind, channel=c.channel, scheduled_for=c.scheduled_for
        )
        return self._accepted(rel, meeting_id=meeting_id)

    def record_meeting_outcome(self, uow: UnitOfWork, c: cmd.RecordMeetingOutcome) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        rel.record_meeting_outcome(
            uow.env, meeting_id=c.meeting_id, outcome=c.outcome, notes=c.notes,
            client_informed_of=list(c.client_informed_of),
        )
        return self._accepted(rel, meeting_id=c.meeting_id)

    def record_consultation(self, uow: UnitOfWork, c: cmd.RecordConsultation) -> cmd.CasefileAccepted:
        """A consultation on the relationship: a worker on the roster (their role from it), or
        someone outside it by profession."""
        rel = self._acting_on(uow, c)
        consultant = self._worker(c.consultant_id, "consultant_id") if c.consultant_id else None
        rel.record_consultation(
            uow.env, consultation_id=self._keyed("consultation", rel, uow), topic=c.topic,
            consultant_id=consultant.worker_id if consultant else None,
            consultant_role=consultant.role if consultant else None, profession=c.profession, notes=c.notes,
        )
        return self._accepted(rel)

    def record_measurement(self, uow: UnitOfWork, c: cmd.RecordMeasurement) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        rel.record_measurement(uow.env, instrument=c.instrument, scores=dict(c.scores))
        return self._accepted(rel)

    def record_consent(self, uow: UnitOfWork, c: cmd.RecordConsent) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        rel.record_consent(uow.env, kind=c.kind, given=c.given)
        return self._accepted(rel)

    def record_disclosure(self, uow: UnitOfWork, c: cmd.RecordDisclosure) -> cmd.CasefileAccepted:
        """Log a disclosure of the client's data (published on the audit stream)."""
        rel = self._acting_on(uow, c)
        rel.record_disclosure(
            uow.env, disclosure_id=self._keyed("disclosure", rel, uow),
            recipient=c.recipient, basis=c.basis, statute=c.statute, categories=list(c.categories),
        )
        return self._accepted(rel)

    def end_relationship(self, uow: UnitOfWork, c: cmd.EndRelationship) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        rel.end(uow.env, reason=c.reason, policy=self.policy)
        return self._accepted(rel)

    def reopen_relationship(self, uow: UnitOfWork, c: cmd.ReopenRelationship) -> cmd.CasefileAccepted:
        rel = self._acting_on(uow, c)
        other = self._open_relationship_of(uow, rel.client_id)
        if other is not None and other != rel.id:
            raise ClientHasOpenRelationship(
                "the client has another open relationship; new matters are attached to it", "relationship_id"
            )
        rel.reopen(uow.env, reason=c.reason)
        return self._accepted(rel)

    # ------------------------------------------------------- intake's events
    def referral_routed(self, uow: UnitOfWork, e: ReferralRouted) -> dict[str, str]:
        """Open a relationship for a routed referral, with the routed worker as own worker; a
        referral about a client whose relationship is open is attached to it instead (one open
        relationship a client). A redelivered referral changes nothing. Intake's suspicion of
        special support need comes along (opened or attached): until the need is determined, the
        SHL 42 § rule applies to it. The own worker's role is the roster's: a team lead may route
        a client without suspected special support to a social worker (SHL 42 § is a floor)."""
        relationship_id = relationship_id_for(e.referral_id, self.id_secret)
        if relationship_id in uow:
            return _log_ids(e, relationship_id)  # redelivered: it opened this relationship already
        attachment_id = attachment_id_for(e.referral_id, self.id_secret)
        attached = uow.get(ReferralAttachment, attachment_id)
        if attached is not None:  # redelivered: attached already, maybe to one ended since
            return _log_ids(e, attached.relationship_id)
        open_id = self._open_relationship_of(uow, e.client_id)
        if open_id is not None:
            relationship = self._relationship(uow, open_id)
            if e.referral_id not in relationship.referral_ids:  # else attached before attachments were recorded
                relationship.attach_referral(
                    uow.env, referral_id=e.referral_id, special_support_suspected=e.special_support_suspected
                )
                uow.add(ReferralAttachment.record(attachment_id, uow.env, relationship_id=open_id))
            return _log_ids(e, open_id)
        relationship = Relationship.open(
            relationship_id, uow.env, client_id=e.client_id, referral_id=e.referral_id,
            special_support_suspected=e.special_support_suspected,
        )
        known = self.roster.get(e.worker_id)
        # Intake routes a suspected special support need to a social worker only.
        role = known[0] if known else ("social_worker" if e.special_support_suspected else e.required_role)
        relationship.name_own_worker(
            uow.env, worker_id=e.worker_id, role=role, team=e.team, work_pair_id=None, reason="initial"
        )
        uow.add(relationship)
        return _log_ids(e, relationship_id)

    # ------------------------------------------------------------ followup's events
    def _followed_relationship(self, uow: UnitOfWork, relationship_id: UUID) -> Relationship | None:
        return uow.get(Relationship, relationship_id)

    def client_disappeared(self, uow: UnitOfWork, e: ClientDisappeared) -> dict[str, str]:
        """Followup counts the client disappeared: the relationship shows it."""
        rel = self._followed_relationship(uow, e.relationship_id)
        if rel is not None:
            rel.note_disappeared(uow.env, since=e.occurred_at.date(), detected_by=e.detected_by)
        return {"relationship_id": str(e.relationship_id)}

    def client_reached(self, uow: UnitOfWork, e: ClientReached) -> dict[str, str]:
        rel = self._followed_relationship(uow, e.relationship_id)
        if rel is not None:
            rel.note_reached(uow.env, on=e.reached_on)
        return {"relationship_id": str(e.relationship_id)}

    def check_in_completed(self, uow: UnitOfWork, e: CheckInCompleted) -> dict[str, str]:
        """The check-in a month after the end is done (seed 003). It found no need, or could not
        reach the client in its tries: the relationship is closed for good (RelationshipClosed).
        It found a need: the relationship opens again, with its own worker (the Aava model); if
        the client has another open relationship since, the need belongs to that one, and this
        one is closed. Nothing happens to a relationship reopened (or closed) since."""
        rel = self._followed_relationship(uow, e.relationship_id)
        if rel is None or not rel.ended:
            return {"relationship_id": str(e.relationship_id)}
        if e.outcome == "need_found":
            other = self._open_relationship_of(uow, rel.client_id)
            if other is None or other == rel.id:
                if rel.closed_on is None:
                    rel.reopen(uow.env, reason="check_in_found_need")
            else:
                rel.close(uow.env, reason="need_in_other_relationship")
        else:
            rel.close(uow.env, reason="check_in_no_need" if e.outcome == "no_need" else "check_in_unreached")
        return {"relationship_id": str(e.relationship_id)}

    def client_marked_recurring(self, uow: UnitOfWork, e: ClientMarkedRecurring) -> dict[str, str]:
        """Followup marked the client recurring: the relationship it names (or the client's open
        one) shows it; the worker decides the nature."""
        relationship_id = e.relationship_id or self._open_relationship_of(uow, e.client_id)
        rel = self._followed_relationship(uow, relationship_id) if relationship_id else None
        if rel is not None:
            rel.note_recurring(uow.env)
        return {"relationship_id": str(relationship_id)} if relationship_id else {}

    # ----------------------------------------------------------------- reads
    def read_relationship(self, uow: UnitOfWork, q: cmd.RecordQuery) -> cmd.RelationshipState | Forbidden:
        """``polku.qry.casefile.relationship``, logged (part ``state``)."""
        return self._logged_read(uow, q, "state", self.state)

    def read_timeline(self, uow: UnitOfWork, q: cmd.RecordQuery) -> cmd.Timeline | Forbidden:
        """``polku.qry.casefile.timeline``, logged (part ``timeline``)."""
        return self._logged_read(uow, q, "timeline", lambda rel: self.timeline(rel.id, q.after_version, q.limit))

    def read_history(self, uow: UnitOfWork, q: cmd.RecordQuery) -> cmd.RelationshipHistory | Forbidden:
        """``polku.qry.casefile.history``, logged as a read of the timeline (every kind of event)."""
        return self._logged_read(uow, q, "timeline", lambda rel: self.history(rel.id, q.after_version, q.limit))

    def read_work_activity_month(
        self, uow: UnitOfWork, q: cmd.WorkActivityMonthQuery
    ) -> cmd.WorkActivityMonth | Forbidden:
        """``polku.qry.casefile.work_activity_month``, logged (part ``state``): the month's
        realised days, absences, and the activity allowance and travel compensation due."""
        year, month = (int(part) for part in q.month.split("-"))
        return self._logged_read(
            uow, q, "state",
            lambda rel: cmd.WorkActivityMonth(
                relationship_id=rel.id, month=q.month, **rel.work_activity_month(year, month, self.policy)
            ),
        )

    def _logged_read(
        self, uow: UnitOfWork, q: cmd.RecordQuery | cmd.WorkActivityMonthQuery, part: str, render: Callable[[Relationship], Any]
    ) -> Any:
        """Read one client's record and log the read; a refused read is logged too, and answered
        ``forbidden`` (returned, not raised, so that its log is stored)."""
        relationship = uow.get(Relationship, q.relationship_id)
        if relationship is None:  # logged too: guessing ids leaves a trace
            uow.add(RecordProbe.record(uuid4(), uow.env, relationship_id=q.relationship_id, part=part, purpose=q.purpose))
            return RelationshipNotFound("no relationship has this id", "relationship_id")
        granted = self.may_access(uow.env.actor, relationship)
        uow.add(
            RecordView.record(
                uuid4(), uow.env, client_id=relationship.client_id, relationship_id=relationship.id, part=part,
                purpose=q.purpose, granted=granted,
            )
        )
        if not granted:
            return Forbidden(
                "only the own worker, the work pair and the relationship's team may read this record", "actor"
            )
        return render(relationship)

    def get_relationship(self, relationship_id: UUID) -> Relationship:
        return self.repository.get(relationship_id)

    def history(
        self, relationship_id: UUID, after_version: int = 0, limit: int = cmd.PAGE_LIMIT_MAX
    ) -> cmd.RelationshipHistory:
        """The relationship's stored events after ``after_version``, as published, straight from
        the event store: at most ``limit`` of them and ``PAGE_BYTES_MAX`` bytes of entries; a page
        that stops short names the version to go on after."""
        entries: list[cmd.RelationshipHistoryEntry] = []
        size, last, next_after = 0, after_version, None
        # A store's versions are 64-bit; a larger after_version (the contract bounds it below
        # only) is after every event, and the store's driver would overflow on it.
        after = min(after_version, MAX_VERSION)
        for e in self.repository.event_store.get(relationship_id, gt=after or None, limit=limit + 1):
            if len(entries) >= limit or size >= cmd.PAGE_BYTES_MAX:
                next_after = last
                break
            contract = publishing.to_contract(e)
            if isinstance(contract, cmd.Event) and type(contract).__module__ == cmd.__name__:  # audit: its own log
                entry = cmd.RelationshipHistoryEntry(version=e.originator_version, recorded_at=e.timestamp, event=contract)
                size += len(encoder.encode(entry))
                entries.append(entry)
            last = e.originator_version
        return cmd.RelationshipHistory(relationship_id=relationship_id, entries=entries, next_after_version=next_after)

    def timeline(self, relationship_id: UUID, after_version: int = 0, limit: int = cmd.PAGE_LIMIT_MAX) -> cmd.Timeline:
        """The history in v1's terms: the events of v1's kinds, and how many of later kinds were
        left out (of this page)."""
        page = self.history(relationship_id, after_version, limit)
        entries = [
            cmd.TimelineEntry(version=h.version, recorded_at=h.recorded_at, event=h.event)  # type: ignore[arg-type]
            for h in page.entries
            if type(h.event) in cmd.V1_EVENTS
        ]
        return cmd.Timeline(
            relationship_id=relationship_id, entries=entries, omitted=len(page.entries) - len(entries),
            next_after_version=page.next_after_version,
        )

    @staticmethod
    def state(rel: Relationship) -> cmd.RelationshipState:
        work = rel.work_activity
        return cmd.RelationshipState(
            relationship_id=rel.id,
            client_id=rel.client_id,
            status="ended" if rel.ended else "open",
            version=rel.version,
            referral_ids=list(rel.referral_ids),
            own_worker_id=rel.own_worker,
            own_worker_role=rel.own_worker_role,
            team=rel.team,
            work_pair_id=rel.work_pair,
            health_care_pair_id=rel.health_care_pair,
            health_care_pair_profession=rel.health_care_pair_profession,
            special_support=rel.special_support,
            special_support_suspected=rel.special_support_suspected,
            nature=rel.nature,
            assessment=rel.assessment,
            assessment_conclusion=rel.assessment_conclusion,
            client_plan_required=rel.client_plan_required,
            plans=[
                cmd.PlanView(
                    kind=p.kind,
                    version=p.version,
                    goals=list(p.content.goals),
                    measures=[cmd.PlanMeasure(text=m.text, responsible=m.responsible) for m in p.content.measures],
                    next_review=p.next_review,
                    valid_until=p.valid_until,
                    client_dissents=p.client_dissents,
                    options_offered=list(p.options_offered),
                    chosen_option=p.chosen_option,
                    further_options_offered=list(p.further_offered),
                    further_chosen_option=p.further_chosen_option,
                    education=p.record.education,
                    education_text=p.content.education,
                    work_history=p.record.work_history,
                    work_history_text=p.content.work_history,
                    earlier_plans=p.record.earlier_plans,
                    earlier_plans_text=p.content.earlier_plans,
                    participants=list(p.record.participants),
                    client_notified_on=p.record.client_notified_on,
                )
                for p in rel.latest_plans()
            ],
            work_activity=cmd.WorkActivityView(
                placement_id=work.placement_id, days_per_week=work.days_per_week, hours_per_day=work.hours_per_day,
                starts_on=work.starts_on, ends_on=work.ends_on, evaluation_on=work.evaluation_on,
                instructor=work.instructor,
            )
            if work
            else None,
            open_meetings=sum(1 for m in rel.meetings.values() if m.outcome is None),
            missed_meetings=sum(1 for m in rel.meetings.values() if m.outcome == "missed"),
            decisions=len(rel.decisions),
            relationship_decision=rel.relationship_decision.outcome if rel.relationship_decision else None,
            client_informed_of=[i for i in CLIENT_INFORMED_OF if i in rel.client_informed_of],
            client_not_yet_informed_of=[i for i in CLIENT_INFORMED_OF if i not in rel.client_informed_of]
            if rel.first_meeting_held
            else [],
            consultations=len(rel.consultations),
            assessment_family_participates=rel.assessment_family_participates,
            consents=sorted(rel.consents),
            end_reason=rel.end_reason,
            formed=rel.formed,
            closed_on=rel.closed_on,
            close_reason=rel.close_reason,
            disappeared_since=rel.disappeared_since,
            recurring=rel.recurring,
            familiarisation_visits=[
                cmd.FamiliarisationVisitView(option=v.option, visited_on=v.visited_on) for v in rel.familiarisation_visits
            ],
        )


def _log_ids(e: ReferralRouted, relationship_id: UUID) -> dict[str, str]:
    return {"referral_id": str(e.referral_id), "relationship_id": str(relationship_id)}
