"""The demo: referrals fed through the command API, part of them carried on through casefile's
commands, then what happened.

A client of the published API only: commands and queries through :mod:`polku.client`, the
contract types, and the events on the streams. The relationship a routed referral opened is
read from casefile's published ``RelationshipOpened`` (it names the referral), not computed.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import msgspec
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

import contracts
from contracts.casefile import RelationshipOpened, casefile_decoder
from contracts.intake import ReceiveReferralAccepted, ReferralRoutedReply
from contracts.reporting import IndicatorsReply, OpenRelationshipsReply
from demo.headlines import headline_lines, settled_indicators
from demo.population import WRONG_COMMANDS, distinct_demo_referrals
from polku.client import Client, Issuer, Refusal, as_client, caseload_lines
from polku.progress import Progress

RECEIVE_REFERRAL = "polku.cmd.intake.receive_referral"
CASEFILE_SUMMARY = "polku.qry.casefile.summary"


class DemoError(RuntimeError):
    """What the demo saw is not what Polku should have done."""


@dataclass
class DemoResult:
    sent: int = 0
    accepted: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    routes: Counter[str] = field(default_factory=Counter)

    @property
    def routed(self) -> int:
        return sum(self.routes.values())
    projected_before: int = 0
    projected_after: int = 0
    seconds: float = 0.0
    reply: OpenRelationshipsReply | None = None
    streams: dict[str, int] = field(default_factory=dict)
    #: the casefile stage: relationships carried along each path, refusals, counts after it
    paths: Counter[str] = field(default_factory=Counter)
    casefile_refused: Counter[str] = field(default_factory=Counter)
    casefile_summary: dict[str, Any] = field(default_factory=dict)
    streams_after: dict[str, int] = field(default_factory=dict)
    #: the relationships carried along each path
    carried: dict[str, list[uuid.UUID]] = field(default_factory=dict)
    #: the followup stage: months the clock moved, its events by type, check-ins by outcome
    months: int = 0
    followup_events: Counter[str] = field(default_factory=Counter)
    check_ins: Counter[str] = field(default_factory=Counter)
    followup_refused: Counter[str] = field(default_factory=Counter)
    #: reporting's indicators once it has read everything the demo caused
    indicators: IndicatorsReply | None = None


async def query_open_relationships(client: Any, timeout: float = 5.0) -> OpenRelationshipsReply:
    """Reporting's open relationships per own worker (``client``: a :class:`Client` or a NATS
    connection)."""
    return await as_client(client).open_relationships(timeout=timeout)


async def send_referral(client: Any, body: dict[str, Any], command_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """``receive_referral``; the reply as it came, refused or not (``{"ok": ..., ...}``)."""
    try:
        return await as_client(client).command(RECEIVE_REFERRAL, body, command_id, timeout=timeout)
    except Refusal as e:
        return e.reply


GUIDANCE = {"worker_id": "sg-001", "role": "service_guidance_worker", "team": "team-north"}
DISTRIBUTION = {"worker_id": "sw-001", "role": "social_worker", "team": "team-north"}


def routing_commands(referral_id: str, *, special: bool, prefix: str) -> list[tuple[str, dict[str, Any], str]]:
    """``(command, body, command id)`` of screening (service need assessment needed), triage
    and routing of a received referral, in order: what :func:`route_through` sends, for a
    caller that sends them itself (retrying each with its command id)."""
    return [
        ("intake.screen_referral", {"actor": GUIDANCE, "referral_id": referral_id,
                                    "outcome": "assessment_needed", "motivation": "motivated"}, f"{prefix}-s"),
        ("intake.triage_support_need", {"actor": DISTRIBUTION, "referral_id": referral_id, "positions": {
            "seeks_help": "unable" if special else "able", "needs": "multiple" if special else "single"}}, f"{prefix}-t"),
        ("intake.route_referral", {"actor": DISTRIBUTION, "referral_id": referral_id}, f"{prefix}-r"),
    ]


async def route_through(client: Any, referral_id: str, *, special: bool, prefix: str) -> ReferralRoutedReply:
    """Screen (service need assessment needed), triage and route a received referral
    (``client``: a :class:`Client` or a NATS connection). A refusal is raised as :class:`Refusal`."""
    client = as_client(client)
    (screen, triage, route) = routing_commands(referral_id, special=special, prefix=prefix)
    await client.command(*screen)
    await client.command(*triage)
    return await client.command(*route, reply_type=ReferralRoutedReply)


WANTED = ("RelationshipOpened", "ReferralAttached")


async def relationships_of(
    client: Client, referral_ids: set[str], *, from_sequence: int, timeout: float = 120.0
) -> dict[str, uuid.UUID]:
    """The relationship each referral opened, from casefile's published events: its
    ``RelationshipOpened`` names the referral. A referral attached to a relationship that was
    open already (``ReferralAttached``) opened none and is left out. Reads CASEFILE from
    ``from_sequence`` with an ephemeral consumer that moves nothing."""
    js = client.nc.jetstream()
    sub = await js.pull_subscribe(
        contracts.STREAMS["CASEFILE"],
        stream="CASEFILE",
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=from_sequence,
            inactive_threshold=10.0,
        ),
    )
    opened: dict[str, uuid.UUID] = {}
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while not referral_ids <= seen and time.monotonic() < deadline:
            try:
                messages = await sub.fetch(1000, timeout=1)
            except (asyncio.TimeoutError, TimeoutError):
                continue
            for msg in messages:
                if (msg.headers or {}).get(contracts.H_EVENT) not in WANTED:
                    continue  # other events are not read at all (and may be newer than we know)
                event = casefile_decoder.decode(msg.data)
                referral = str(event.referral_id)
                seen.add(referral)
                if isinstance(event, RelationshipOpened):
                    opened[referral] = event.relationship_id
    finally:
        consumer = (await sub.consumer_info()).name
        await sub.unsubscribe()
        await js.delete_consumer("CASEFILE", consumer)  # leave nothing behind for `polku status`
    return {r: opened[r] for r in referral_ids if r in opened}


async def run_demo(client: Any, *, referrals: int = 200, seed: int | None = None, concurrency: int = 32, quiet: bool = False) -> DemoResult:
    client = as_client(client)
    rng = random.Random(seed)
    run_id = uuid.uuid4().hex[:12]
    result = DemoResult()
    started = time.perf_counter()
    before = await client.open_relationships(timeout=30)
    result.projected_before = before.total
    casefile_from = (await client.nc.jetstream().stream_info("CASEFILE")).state.last_seq + 1

    progress = Progress("referrals sent", referrals) if not quiet else None
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int, body: dict[str, Any]) -> None:
        accepted: ReceiveReferralAccepted | None = None
        async with semaphore:
            try:
                accepted = await client.command(RECEIVE_REFERRAL, body, f"demo-{run_id}-{i}", reply_type=ReceiveReferralAccepted)
            except Refusal as e:
                result.refused[e.code] += 1
            answered = None
            if accepted is not None:
                referral_id = str(accepted.referral_id)
                draw = rng.random()
                if draw < 0.3:
                    # Service guidance answers it: advice and guidance, or redirection to Kela.
                    answered = "advice_given" if draw < 0.2 else "redirected"
                    extra = {"redirected_to": "kela"} if answered == "redirected" else {}
                    await client.command("intake.screen_referral", {"actor": GUIDANCE, "referral_id": referral_id,
                                                                    "outcome": answered, **extra}, f"demo-{run_id}-{i}-s")
                else:
                    # An assessment is needed: the distribution team triages (about a third with
                    # special support suspected) and routes.
                    routed = await route_through(client, referral_id, special=rng.random() < 0.35, prefix=f"demo-{run_id}-{i}")
                    result.routes[routed.required_role] += 1
        result.sent += 1
        if accepted is not None:
            result.accepted += 1
            if answered is None:
                referral_ids[i] = str(accepted.referral_id)
        if progress:
            progress.update(result.sent)

    bodies = distinct_demo_referrals(rng, referrals)
    referral_ids: dict[int, str] = {}
    await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
    if progress:
        progress.done()
    for i, body in enumerate(WRONG_COMMANDS):
        try:
            await client.command(RECEIVE_REFERRAL, body, f"demo-{run_id}-wrong-{i}")
        except Refusal as e:
            result.refused[e.code] += 1

    target = before.total + result.routed
    waiting = Progress("relationships projected", result.routed) if not quiet else None
    deadline = time.monotonic() + 120
    while True:
        reply = await client.open_relationships()
        if waiting:
            waiting.update(reply.total - before.total)
        if reply.total >= target or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    if waiting:
        waiting.done()
    result.reply = reply
    result.projected_after = reply.total
    result.streams = await client.stream_counts()

    # The casefile stage: part of the population goes on along the paths of the models.
    opened = await relationships_of(client, set(referral_ids.values()), from_sequence=casefile_from)
    rids = [opened[referral_ids[i]] for i in sorted(referral_ids) if referral_ids[i] in opened]
    stage = Progress("relationships carried on", len(rids)) if not quiet else None
    done = 0

    async def carry(i: int, rid: uuid.UUID) -> None:
        nonlocal done
        path = DEMO_PATHS[i % len(DEMO_PATHS)]
        async with semaphore:
            ok = await _carry(client, rid, path, f"demo-{run_id}-cf-{i}", result)
        result.paths[path if ok else "refused"] += 1
        if ok:
            result.carried.setdefault(path, []).append(rid)
        done += 1
        if stage:
            stage.update(done)

    await asyncio.gather(*(carry(i, rid) for i, rid in enumerate(rids)))
    if stage:
        stage.done()
    result.casefile_summary = await client.query(CASEFILE_SUMMARY)
    await followup_stage(client, result, f"demo-{run_id}-fu", quiet=quiet)
    result.indicators = await settled_indicators(client)
    result.seconds = time.perf_counter() - started
    result.streams_after = await client.stream_counts()
    return result


TEAM_LEAD = {"worker_id": "tl-001", "role": "team_lead", "team": "team-north"}
FOLLOWUP_MONTHS = 4


async def followup_stage(client: Client, result: DemoResult, prefix: str, *, quiet: bool = False) -> None:
    """Months pass in followup (its clock moves, demo mode): a third of the open relationships
    lose touch (failed contacts over two weeks: disappeared), half of those are reached again,
    the rest wait out the waiting period (an end proposal); the ended relationships' check-ins
    fall due and are recorded in turn as no need, a need found (casefile reopens) and not
    reached; reviews and assessments left undone become overdue. Then what followup published."""
    followup_from = (await client.nc.jetstream().stream_info("FOLLOWUP")).state.last_seq + 1
    n = 0

    async def send(name: str, body: dict[str, Any], actor: dict[str, str] = _WORKER) -> dict[str, Any] | None:
        nonlocal n
        n += 1
        try:
            return await client.command(f"followup.{name}", {"actor": actor, **body}, f"{prefix}-{n}")
        except Refusal as e:
            result.followup_refused[e.code] += 1
            return None

    async def contact(rids: list[uuid.UUID], channel: str, outcome: str) -> None:
        await asyncio.gather(*(send("record_contact_attempt", {"relationship_id": str(r), "channel": channel,
                                                                 "outcome": outcome}) for r in rids))

    async def advance(days: int) -> None:
        await send("advance_clock", {"days": days}, TEAM_LEAD)
        await asyncio.sleep(1.5)  # the scheduler's tick: what fell due fires

    progress = Progress("followup months", FOLLOWUP_MONTHS) if not quiet else None
    losing = result.carried.get("open", [])[::3]
    await asyncio.sleep(1.0)  # followup takes in casefile's events of the stage before
    await contact(losing, "phone", "no_answer")
    await advance(8)
    await contact(losing, "text_message", "no_answer")
    await advance(8)
    await contact(losing, "letter", "mail_returned")  # 3 failures over 16 days: disappeared
    await advance(14)
    await contact(losing[::2], "home_visit", "reached")  # reached again: the waiting is over
    if progress:
        progress.update(1)
    # the no_service_need path formed no client relationship (seed 000): no check-in falls due for it
    ended = [*result.carried.get("temporary_advice", []), *result.carried.get("activation_to_work", [])]
    outcomes = ("no_need", "need_found", "not_reached")
    turn = {str(r): k for k, r in enumerate(ended)}
    recorded: set[tuple[str, int]] = set()  # (relationship, try): each due try is recorded once
    for month in range(2, FOLLOWUP_MONTHS + 1):
        await advance(30)
        due = [e for e in await _followup_events(client, followup_from) if e.get("event") == "CheckInDue"]
        for e in due:
            rid = e["relationship_id"]
            if (rid, e["attempt"]) in recorded:
                continue
            recorded.add((rid, e["attempt"]))
            i = turn.get(rid, 0)
            await send("record_check_in", {"relationship_id": rid, "outcome": outcomes[i % 3]})
        if progress:
            progress.update(month)
    if progress:
        progress.done()
    result.months = FOLLOWUP_MONTHS
    published = await _followup_events(client, followup_from)
    result.followup_events = Counter(e["event"] for e in published)
    result.check_ins = Counter(e["outcome"] for e in published if e["event"] == "CheckInCompleted")


async def _followup_events(client: Client, from_sequence: int) -> list[dict[str, Any]]:
    """FOLLOWUP's events from ``from_sequence`` on (an ephemeral consumer that moves nothing)."""
    js = client.nc.jetstream()
    last = (await js.stream_info("FOLLOWUP")).state.last_seq
    if last < from_sequence:
        return []
    sub = await js.pull_subscribe(
        contracts.STREAMS["FOLLOWUP"], stream="FOLLOWUP",
        config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                              opt_start_seq=from_sequence, inactive_threshold=10.0),
    )
    out: list[dict[str, Any]] = []
    try:
        while len(out) < last - from_sequence + 1:
            try:
                messages = await sub.fetch(1000, timeout=1)
            except (asyncio.TimeoutError, TimeoutError):
                break
            out += [msgspec.json.decode(m.data) for m in messages]
    finally:
        consumer = (await sub.consumer_info()).name
        await sub.unsubscribe()
        await js.delete_consumer("FOLLOWUP", consumer)
    return out


#: The paths of the models (seed 000 and the Aava model), in turn; "open" stays where it is.
DEMO_PATHS = ("temporary_advice", "no_service_need", "activation_to_work", "continuous_special_support", "open")
_WORKER = {"worker_id": "sw-001", "role": "social_worker", "team": "team-north"}


def _steps(path: str, today: date) -> list[tuple[str, dict[str, Any]]]:
    review = (today + timedelta(days=90)).isoformat()
    if path == "temporary_advice":
        return [("determine_nature", {"nature": "temporary"}), ("end_relationship", {"reason": "goal_reached"})]
    if path == "no_service_need":
        return [("start_assessment", {}), ("complete_assessment", {"conclusion": "no_service_need"})]
    if path == "activation_to_work":
        start = today + timedelta(days=14)
        return [
            # SHL 42 §: a social counsellor alone is own worker only once no special support need
            # is suspected or found (intake's triage suspected it for about a third)
            ("determine_special_support_need", {"special_support": False}),
            ("name_own_worker", {"worker_id": "sc-001", "reason": "competence"}),
            ("update_plan", {"kind": "activation_plan", "goals": ["work"], "next_review": review,
                             "strengths": ["reliable"], "support_needed": ["a daily rhythm"],
                             # KTTL 8 §: education, work history, earlier plans; made with the
                             # client and employment services
                             "education": "vocational", "work_history": "one_to_five_years",
                             "earlier_plans": "no_earlier_plans", "participants": ["client", "employment_services"],
                             "options_offered": ["rehabilitative_work_activity", "education"]}),
            ("update_plan", {"kind": "activation_plan", "goals": ["work"], "next_review": review,
                             "chosen_option": "rehabilitative_work_activity"}),
            ("make_decision", {"kind": "rehabilitative_work_activity", "granted": True, "appeal_instructions_given": True}),
            ("determine_nature", {"nature": "recurring"}),
            ("start_work_activity", {"placement_id": "activity-centre-1", "days_per_week": 3, "hours_per_day": 4.0,
                                     "starts_on": start.isoformat(), "ends_on": (start + timedelta(days=183)).isoformat(),
                                     "evaluation_on": (start + timedelta(days=90)).isoformat(),
                                     "shop_steward_notified": True}),
            ("end_work_activity", {"reason": "period_completed"}),
            ("end_relationship", {"reason": "transferred_to_work"}),
        ]
    if path == "continuous_special_support":
        return [
            ("name_own_worker", {"worker_id": "sw-002", "reason": "support_need_changed"}),
            ("determine_special_support_need", {"special_support": True, "grounds": ["multiple_needs"]}),
            ("start_assessment", {}),
            ("complete_assessment", {"conclusion": "service_need"}),
            # seed 000: the decision that the client relationship begins is almost always made
            ("decide_on_relationship", {"outcome": "granted", "appeal_instructions_given": True}),
            ("update_plan", {"kind": "client_plan", "goals": ["housing"], "next_review": review,
                             "measures": [{"text": "weekly visits", "responsible": "own_worker"}]}),
            ("determine_nature", {"nature": "continuous"}),
            ("make_decision", {"kind": "supported_living", "granted": True, "secures_care": True,
                               "appeal_instructions_given": True}),
        ]
    return []


async def _carry(client: Client, rid: uuid.UUID, path: str, prefix: str, result: DemoResult) -> bool:
    for n, (name, fields) in enumerate(_steps(path, date.today())):
        body = {"relationship_id": str(rid), "actor": _WORKER, **fields}
        try:
            await client.command(f"casefile.{name}", body, f"{prefix}-{n}")
        except Refusal as e:
            result.casefile_refused[e.code] += 1
            return False
    return True


def format_summary(result: DemoResult) -> str:
    lines = [
        "",
        f"Demo: {result.accepted} referrals accepted, "
        f"{sum(result.refused.values())} refused ({', '.join(f'{k}: {v}' for k, v in sorted(result.refused.items())) or 'none'}), "
        f"in {result.seconds:.1f}s",
        "",
        "Routed by intake (screened, triaged on the four-field grid, routed by load and capacity):",
        *(f"  to a {role:<28} {count:>6}" for role, count in sorted(result.routes.items())),
        "",
        "Events per stream after intake:",
    ]
    for name, count in result.streams.items():
        lines.append(f"  {name:<10} {count:>8}")
    lines += ["", "Open relationships per own worker (reporting, after intake):"]
    if result.reply is not None:
        lines += caseload_lines(result.reply)
    if result.casefile_summary:
        counts = result.casefile_summary
        lines += ["", "Casefile stage: relationships carried along the paths of the models:"]
        for path in (*DEMO_PATHS, "refused"):
            if result.paths.get(path):
                lines.append(f"  {path:<42} {result.paths[path]:>6}")
        if result.casefile_refused:
            lines.append(f"  refused: {', '.join(f'{k}: {v}' for k, v in sorted(result.casefile_refused.items()))}")
        lines.append(f"  {'open after the stage (casefile)':<42} {counts['open']:>6}")
        if result.months:
            events = result.followup_events
            lines += ["", f"Followup, {result.months} months on (its clock moved in demo mode):"]
            for label, name in (("clients disappeared", "ClientDisappeared"), ("reached again", "ClientReached"),
                                ("end proposals (waiting period over)", "EndProposed"),
                                ("contact attempts", "ContactAttemptRecorded"),
                                ("assessments overdue", "AssessmentOverdue"), ("reviews overdue", "ReviewOverdue"),
                                ("evaluations overdue", "EvaluationOverdue"), ("overdues cleared", "OverdueCleared"),
                                ("check-ins due", "CheckInDue"), ("clients marked recurring", "ClientMarkedRecurring")):
                lines.append(f"  {label:<42} {events.get(name, 0):>6}")
            for outcome in ("no_need", "need_found", "unreached"):
                lines.append(f"  {'check-ins completed: ' + outcome:<42} {result.check_ins.get(outcome, 0):>6}")
            if result.followup_refused:
                lines.append(f"  refused: {', '.join(f'{k}: {v}' for k, v in sorted(result.followup_refused.items()))}")
        lines += ["", "Events per stream after the casefile and followup stages:"]
        for name, count in result.streams_after.items():
            lines.append(f"  {name:<10} {count:>8}")
    if result.indicators is not None:
        lines += ["", *headline_lines(result.indicators)]
    return "\n".join(lines)


def run(url: str, *, referrals: int = 200, seed: int | None = None) -> str:
    """What ``polku up --demo`` runs once the stack is up (the entry point ``polku.demo``):
    the demo against the NATS at ``url``; returns the summary to print. Raises
    :class:`DemoError` when reporting does not show every relationship the demo opened."""

    async def main() -> str:
        # the demo is the client system: it signs each command for the worker it acts for with
        # the demo issuer's key under var/keys (production: the client's identity provider)
        issuer = Issuer.from_var(Path(os.environ.get("POLKU_VAR_DIR", "var")).absolute())
        client = await Client.connect(url, name="polku-demo", issuer=issuer, default_worker=GUIDANCE["worker_id"])
        try:
            result = await run_demo(client, referrals=referrals, seed=seed)
        finally:
            await client.close()
        if result.projected_after < result.projected_before + result.routed:
            raise DemoError(
                f"reporting shows {result.projected_after - result.projected_before} of {result.routed} new relationships"
            )
        return format_summary(result)

    return asyncio.run(main())
