"""Casefile's use cases, and its side of the consumer of intake's events.

Commands on a relationship go through :meth:`CasefileApplication.decide`: it finds the
relationship, answers a retried command with its first reply (the relationship remembers the
commands it carried out), checks that the acting worker may act on it, and calls the
aggregate's use case with plain values. Nothing is stored when a rule is broken.

Reads of a client's record are logged: each query records a :class:`RecordView` (published as
the audit event ClientRecordViewed), whether access was granted or refused.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import msgspec
from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import JSONTranscoder, Tracking, Transcoding

from contracts import casefile as cmd
from contracts.intake import ReferralRouted
from polku.commands import CommandRefused
from polku.consumer import Delivery, Failure, Prepared
from polku.settings import RosterEntry
from polku.store import ServiceApplication
from services.casefile import publishing
from services.casefile.domain import CasefileRuleBroken, Policy, RecordView, Relationship

RELATIONSHIP_NAMESPACE = uuid5(NAMESPACE_URL, "https://polku.invalid/casefile/relationship")
DECISION_NAMESPACE = uuid5(NAMESPACE_URL, "https://polku.invalid/casefile/decision")
MEETING_NAMESPACE = uuid5(NAMESPACE_URL, "https://polku.invalid/casefile/meeting")


def relationship_id_for(referral_id: UUID) -> UUID:
    """The relationship a referral opens; a redelivered referral finds the one it opened."""
    return uuid5(RELATIONSHIP_NAMESPACE, str(referral_id))


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class RelationshipNotFound(CommandRefused):
    code = "relationship_not_found"


class Forbidden(CommandRefused):
    code = "forbidden"


class UnknownWorker(CommandRefused):
    code = "unknown_worker"


class CommandIdReused(CommandRefused):
    code = "command_id_reused"


class ClientHasOpenRelationship(CommandRefused):
    code = "client_has_open_relationship"


def refusal(e: CasefileRuleBroken) -> CommandRefused:
    return CommandRefused(str(e), e.field, e.code)


def _actor(command: Any) -> dict[str, str]:
    return {"worker_id": command.actor.worker_id, "role": command.actor.role, "team": command.actor.team}


class CasefileApplication(ServiceApplication):
    name = "casefile"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        roster: tuple[RosterEntry, ...],
        policy: Policy | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        super().__init__(env)
        self.roster = roster
        self.roster_by_id = {w.worker_id: w for w in roster}
        self.policy = policy or Policy()
        self._lock = threading.Lock()
        self._projection_lock = threading.RLock()
        #: projections of our own store, built at start and kept up to date on every record
        self.caseload: Counter[str] = Counter()  # open relationships per own worker
        self._owner: dict[UUID, str] = {}
        self._client: dict[UUID, str] = {}
        self.open_by_client: dict[str, UUID] = {}
        self.nature: dict[UUID, str] = {}
        self.end_reason: dict[UUID, str] = {}
        #: events replayed into the projections at start
        self.replayed = 0
        self._load_projections(progress)
        self._handlers: dict[type, Callable[..., None]] = {
            cmd.NameOwnWorker: self._name_own_worker,
            cmd.DetermineSpecialSupportNeed: self._determine_special_support_need,
            cmd.StartAssessment: self._start_assessment,
            cmd.CompleteAssessment: self._complete_assessment,
            cmd.DetermineNature: self._determine_nature,
            cmd.UpdatePlan: self._update_plan,
            cmd.StartWorkActivity: self._start_work_activity,
            cmd.EndWorkActivity: self._end_work_activity,
            cmd.MakeDecision: self._make_decision,
            cmd.ScheduleMeeting: self._schedule_meeting,
            cmd.RecordMeetingOutcome: self._record_meeting_outcome,
            cmd.RecordMeasurement: self._record_measurement,
            cmd.RecordConsent: self._record_consent,
            cmd.EndRelationship: self._end_relationship,
            cmd.ReopenRelationship: self._reopen_relationship,
        }

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # ----------------------------------------------------------- projections
    def _load_projections(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Replay the whole store into the projections; ``progress(replayed, last position)``."""
        end = self.max_position()
        start = 1
        while True:
            page = self.recorder.select_notifications(start, 1000)
            if not page:
                break
            for notification in page:
                self._project(self.mapper.to_domain_event(notification))
            self.replayed += len(page)
            start = page[-1].id + 1
            if progress is not None:
                progress(self.replayed, max(end, start - 1))

    def _notify(self, recordings: list[Any]) -> None:
        with self._projection_lock:
            for recording in recordings:
                self._project(recording.domain_event)
        super()._notify(recordings)

    def _project(self, e: Any) -> None:
        rid = e.originator_id
        if isinstance(e, Relationship.Opened):
            self._client[rid] = e.client_id
            self.open_by_client[e.client_id] = rid
        elif isinstance(e, Relationship.OwnWorkerNamed):
            previous = self._owner.get(rid)
            if previous and rid not in self.end_reason:
                self.caseload[previous] -= 1
            self._owner[rid] = e.worker_id
            if rid not in self.end_reason:
                self.caseload[e.worker_id] += 1
        elif isinstance(e, Relationship.RelationshipNatureDetermined):
            self.nature[rid] = e.nature
        elif isinstance(e, Relationship.Ended):
            self.end_reason[rid] = e.reason
            client = self._client.get(rid)
            if client is not None and self.open_by_client.get(client) == rid:
                del self.open_by_client[client]
            if owner := self._owner.get(rid):
                self.caseload[owner] -= 1
        elif isinstance(e, Relationship.Reopened):
            self.end_reason.pop(rid, None)
            if client := self._client.get(rid):
                self.open_by_client[client] = rid
            if owner := self._owner.get(rid):
                self.caseload[owner] += 1

    def summary(self) -> cmd.CasefileSummary:
        with self._projection_lock:
            total = len(self._client)
            ended = len(self.end_reason)
            return cmd.CasefileSummary(
                open=total - ended,
                ended=ended,
                by_nature=dict(sorted(Counter(self.nature.values()).items())),
                without_nature=total - len(self.nature),
                by_end_reason=dict(sorted(Counter(self.end_reason.values()).items())),
            )

    # ---------------------------------------------------- consumer (intake)
    def position(self, stream: str) -> int:
        return self.tracking_position(stream)

    def prepare(self, deliveries: list[Delivery[Any]]) -> Prepared:
        """Open a relationship per routed referral, with the routed worker as own worker; a
        referral about a client whose relationship is open is attached to it instead (one open
        relationship a client). Intake's other events do not concern casefile."""
        processing = ProcessingEvent[UUID]()
        prepared = Prepared(deliveries, state=processing)
        in_batch: dict[UUID, Relationship] = {}
        open_in_batch: dict[str, UUID] = {}
        for d in deliveries:
            event = d.event
            if not isinstance(event, ReferralRouted):
                continue
            relationship_id = relationship_id_for(event.referral_id)
            trace = {"correlation_id": d.correlation_id, "causation_id": str(event.event_id)}
            if relationship_id in in_batch or relationship_id in self.repository:
                prepared.log_ids[d.seq] = self._log_ids(event, relationship_id)
                continue  # redelivered: it opened this relationship already
            open_id = open_in_batch.get(event.client_id) or self.open_by_client.get(event.client_id)
            try:
                if open_id is not None:
                    relationship = in_batch.get(open_id) or self.repository.get(open_id)
                    prepared.log_ids[d.seq] = self._log_ids(event, open_id)
                    if event.referral_id in relationship.referral_ids:
                        continue  # redelivered: attached already
                    relationship.attach_referral(
                        referral_id=event.referral_id, occurred_at=event.occurred_at, trace=trace
                    )
                    in_batch[open_id] = relationship
                    processing.collect_events(relationship)
                    continue
                prepared.log_ids[d.seq] = self._log_ids(event, relationship_id)
                relationship = Relationship.open(
                    relationship_id,
                    client_id=event.client_id,
                    referral_id=event.referral_id,
                    occurred_at=event.occurred_at,
                    trace=trace,
                )
                relationship.name_own_worker(
                    worker_id=event.worker_id,
                    role=event.required_role,
                    team=event.team,
                    work_pair_id=None,
                    reason="initial",
                    occurred_at=event.occurred_at,
                    actor=None,
                    trace=trace,
                )
            except CasefileRuleBroken as e:
                prepared.failures.append(Failure(d, e.code, str(e)))
                continue
            in_batch[relationship_id] = relationship
            open_in_batch[event.client_id] = relationship_id
            processing.collect_events(relationship)
        return prepared

    @staticmethod
    def _log_ids(event: ReferralRouted, relationship_id: UUID) -> dict[str, str]:
        return {"referral_id": str(event.referral_id), "relationship_id": str(relationship_id)}

    def commit(self, prepared: Prepared, stream: str, last_seq: int) -> None:
        processing: ProcessingEvent[UUID] = prepared.state or ProcessingEvent[UUID]()
        processing.tracking = Tracking(stream, last_seq)
        with self._lock:
            self.record_processed(processing)

    # -------------------------------------------------------------- commands
    def decide(
        self,
        command: cmd.CasefileCommand,
        *,
        command_id: str,
        trace: dict[str, Any],
        pending: dict[Any, Any] | None = None,
    ) -> tuple[dict[str, Any], list[Relationship]]:
        """The reply to a casefile command and the relationship it changed, not yet stored;
        nothing to store when the command is a retry. Raises :class:`CommandRefused`."""
        relationship = self._relationship(command.relationship_id, pending)
        digest = hashlib.sha256(msgspec.json.encode(command, order="sorted")).hexdigest()
        seen = relationship.commands.get(command_id)
        if seen is not None:
            if seen["digest"] != digest:
                raise CommandIdReused(
                    "this Polku-Command-Id was used for a different command; use a new id for a new command",
                    "Polku-Command-Id",
                )
            return seen["reply"], []
        self.check_access(command.actor, relationship)
        context = {
            "occurred_at": command.occurred_at or datetime.now(UTC),
            "actor": _actor(command),
            "trace": trace,
            "command": {"id": command_id, "digest": digest},
        }
        try:
            self._handlers[type(command)](relationship, command, context)
        except CasefileRuleBroken as e:
            raise refusal(e) from None
        return relationship.commands[command_id]["reply"], [relationship]

    def execute(self, command: cmd.CasefileCommand, *, command_id: str, trace: dict[str, Any] | None = None) -> dict[str, Any]:
        """Decide and store one command on its own (the handlers commit in groups instead)."""
        reply, aggregates = self.decide(command, command_id=command_id, trace=trace or {})
        if aggregates:
            self.save(*aggregates)
        return reply

    def _relationship(self, relationship_id: UUID, pending: dict[Any, Any] | None = None) -> Relationship:
        if pending and relationship_id in pending:
            return pending[relationship_id]
        try:
            relationship = self.repository.get(relationship_id)
        except AggregateNotFoundError:
            raise RelationshipNotFound("no relationship has this id", "relationship_id") from None
        if not isinstance(relationship, Relationship):
            raise RelationshipNotFound("no relationship has this id", "relationship_id")
        return relationship

    @staticmethod
    def may_access(actor: Any, relationship: Relationship) -> bool:
        """The own worker, the work pair and the relationship's team may read and act on it."""
        return (
            actor.worker_id in (relationship.own_worker, relationship.work_pair)
            or (relationship.team is not None and actor.team == relationship.team)
        )

    def check_access(self, actor: Any, relationship: Relationship) -> None:
        if not self.may_access(actor, relationship):
            raise Forbidden(
                "only the own worker, the work pair and the relationship's team may act on it", "actor"
            )

    def _worker(self, worker_id: str, field: str) -> RosterEntry:
        worker = self.roster_by_id.get(worker_id)
        if worker is None:
            raise UnknownWorker("the worker is not on the roster", field)
        return worker

    # The use cases: a command's plain values into the relationship's method.
    def _name_own_worker(self, rel: Relationship, c: cmd.NameOwnWorker, ctx: dict[str, Any]) -> None:
        worker = self._worker(c.worker_id, "worker_id")
        pair = self._worker(c.work_pair_id, "work_pair_id") if c.work_pair_id else None
        rel.name_own_worker(
            worker_id=worker.worker_id,
            role=worker.role,
            team=worker.team,
            work_pair_id=pair.worker_id if pair else None,
            work_pair_role=pair.role if pair else None,
            reason=c.reason,
            **ctx,
        )

    def _determine_special_support_need(self, rel: Relationship, c: cmd.DetermineSpecialSupportNeed, ctx: dict[str, Any]) -> None:
        rel.determine_special_support_need(
            special_support=c.special_support, grounds=list(c.grounds), grounds_text=c.grounds_text, **ctx
        )

    def _start_assessment(self, rel: Relationship, c: cmd.StartAssessment, ctx: dict[str, Any]) -> None:
        rel.start_assessment(**ctx)

    def _complete_assessment(self, rel: Relationship, c: cmd.CompleteAssessment, ctx: dict[str, Any]) -> None:
        rel.complete_assessment(conclusion=c.conclusion, summary=c.summary, policy=self.policy, **ctx)

    def _determine_nature(self, rel: Relationship, c: cmd.DetermineNature, ctx: dict[str, Any]) -> None:
        rel.determine_nature(nature=c.nature, **ctx)

    def _update_plan(self, rel: Relationship, c: cmd.UpdatePlan, ctx: dict[str, Any]) -> None:
        content = {
            "strengths": list(c.strengths),
            "support_needed": list(c.support_needed),
            "goals": list(c.goals),
            "measures": [{"text": m.text, "responsible": m.responsible} for m in c.measures],
            "meetings": c.meetings,
            "client_view": c.client_view,
            "dissent": c.dissent,
        }
        rel.update_plan(
            kind=c.kind,
            content=content,
            next_review=c.next_review,
            valid_until=c.valid_until,
            client_dissents=c.client_dissents,
            options_offered=list(c.options_offered),
            chosen_option=c.chosen_option,
            all_options_refused=c.all_options_refused,
            consequences_told=c.consequences_told,
            policy=self.policy,
            **ctx,
        )

    def _start_work_activity(self, rel: Relationship, c: cmd.StartWorkActivity, ctx: dict[str, Any]) -> None:
        rel.start_work_activity(
            placement_id=c.placement_id,
            days_per_week=c.days_per_week,
            hours_per_day=c.hours_per_day,
            starts_on=c.starts_on,
            ends_on=c.ends_on,
            familiarisation_until=c.familiarisation_until,
            evaluation_on=c.evaluation_on,
            shop_steward_notified=c.shop_steward_notified,
            policy=self.policy,
            **ctx,
        )

    def _end_work_activity(self, rel: Relationship, c: cmd.EndWorkActivity, ctx: dict[str, Any]) -> None:
        rel.end_work_activity(reason=c.reason, **ctx)

    def _make_decision(self, rel: Relationship, c: cmd.MakeDecision, ctx: dict[str, Any]) -> None:
        rel.make_decision(
            decision_id=uuid5(DECISION_NAMESPACE, f"{rel.id}:{ctx['command']['id']}"),
            kind=c.kind,
            granted=c.granted,
            appeal_instructions_given=c.appeal_instructions_given,
            secures_care=c.secures_care,
            grounds_text=c.grounds_text,
            **ctx,
        )

    def _schedule_meeting(self, rel: Relationship, c: cmd.ScheduleMeeting, ctx: dict[str, Any]) -> None:
        rel.schedule_meeting(
            meeting_id=uuid5(MEETING_NAMESPACE, f"{rel.id}:{ctx['command']['id']}"),
            kind=c.kind,
            channel=c.channel,
            scheduled_for=c.scheduled_for,
            **ctx,
        )

    def _record_meeting_outcome(self, rel: Relationship, c: cmd.RecordMeetingOutcome, ctx: dict[str, Any]) -> None:
        rel.record_meeting_outcome(meeting_id=c.meeting_id, outcome=c.outcome, notes=c.notes, **ctx)

    def _record_measurement(self, rel: Relationship, c: cmd.RecordMeasurement, ctx: dict[str, Any]) -> None:
        rel.record_measurement(instrument=c.instrument, scores=dict(c.scores), **ctx)

    def _record_consent(self, rel: Relationship, c: cmd.RecordConsent, ctx: dict[str, Any]) -> None:
        rel.record_consent(kind=c.kind, given=c.given, **ctx)

    def _end_relationship(self, rel: Relationship, c: cmd.EndRelationship, ctx: dict[str, Any]) -> None:
        rel.end(reason=c.reason, policy=self.policy, **ctx)

    def _reopen_relationship(self, rel: Relationship, c: cmd.ReopenRelationship, ctx: dict[str, Any]) -> None:
        with self._projection_lock:
            other = self.open_by_client.get(rel.client_id)
        if other is not None and other != rel.id:
            raise ClientHasOpenRelationship(
                "the client has another open relationship; new matters are attached to it", "relationship_id"
            )
        rel.reopen(reason=c.reason, **ctx)

    # --------------------------------------------------------------- reads
    def get_relationship(self, relationship_id: UUID) -> Relationship:
        return self.repository.get(relationship_id)

    def decide_view(
        self, query: cmd.RecordQuery, part: str, *, trace: dict[str, Any], pending: dict[Any, Any] | None = None
    ) -> tuple[Any, list[RecordView]]:
        """Read one client's record and log the read: ``(reply or a Forbidden, [the log])``.

        A refused read is logged too, and answered ``forbidden``."""
        relationship = self._relationship(query.relationship_id)
        granted = self.may_access(query.actor, relationship)
        view = RecordView.record(
            uuid4(),
            relationship_id=relationship.id,
            client_id=relationship.client_id,
            part=part,
            purpose=query.purpose,
            granted=granted,
            occurred_at=datetime.now(UTC),
            actor=_actor(query),
            trace=trace,
        )
        if not granted:
            result: Any = Forbidden(
                "only the own worker, the work pair and the relationship's team may read this record", "actor"
            )
        elif part == "timeline":
            result = self.timeline(relationship.id)
        else:
            result = self.state(relationship)
        return result, [view]

    def timeline(self, relationship_id: UUID) -> cmd.Timeline:
        """Every stored event of the relationship, as published, straight from the event store."""
        entries = []
        for e in self.repository.event_store.get(relationship_id):
            contract = publishing.to_contract(e)
            if contract is not None:
                entries.append(cmd.TimelineEntry(version=e.originator_version, recorded_at=e.timestamp, event=contract))
        return cmd.Timeline(relationship_id=relationship_id, entries=entries)

    @staticmethod
    def state(rel: Relationship) -> cmd.RelationshipState:
        latest: dict[str, dict[str, Any]] = {}
        for plan in rel.plans:
            latest[plan["kind"]] = plan
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
            special_support=rel.special_support,
            nature=rel.nature,
            assessment=rel.assessment,
            assessment_conclusion=rel.assessment_conclusion,
            client_plan_required=rel.client_plan_required,
            plans=[
                cmd.PlanView(
                    kind=p["kind"],
                    version=p["version"],
                    goals=list(p["content"]["goals"]),
                    measures=[cmd.PlanMeasure(**m) for m in p["content"]["measures"]],
                    next_review=p["next_review"],
                    valid_until=p["valid_until"],
                    client_dissents=p["client_dissents"],
                    options_offered=list(p["options_offered"]),
                    chosen_option=p["chosen_option"],
                )
                for p in latest.values()
            ],
            work_activity=cmd.WorkActivityView(
                **{k: rel.work_activity[k] for k in ("placement_id", "days_per_week", "hours_per_day", "starts_on", "ends_on", "evaluation_on")}
            )
            if rel.work_activity
            else None,
            open_meetings=sum(1 for m in rel.meetings.values() if m["outcome"] is None),
            missed_meetings=sum(1 for m in rel.meetings.values() if m["outcome"] == "missed"),
            decisions=len(rel.decisions),
            consents=sorted(rel.consents),
            end_reason=rel.end_reason,
        )
