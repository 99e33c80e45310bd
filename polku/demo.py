"""The demo: referrals fed through the command API, then what happened.

Demo clients get synthetic identity codes with individual numbers 900-999, the range kept for
temporary and test codes, so no real person's code is ever made up by accident.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, get_args

import msgspec
from nats.aio.client import Client

import contracts
from contracts.base import COMMAND_ID_HEADER
from contracts.reporting import OpenRelationshipsReply
from contracts.vocabulary import AuthorityKind, Channel, ConcernCategory, SourceKind
from polku.bus import stream_counts
from polku.progress import Progress
from services.casefile.application import relationship_id_for
from services.intake.identity import CENTURIES, check_character

RECEIVE_REFERRAL = "polku.cmd.intake.receive_referral"
OPEN_RELATIONSHIPS = "polku.qry.reporting.open_relationships"


def synthetic_identity_code(rng: random.Random) -> str:
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 365 * 45))
    ddmmyy = born.strftime("%d%m%y")
    sign = "-" if born.year < 2000 else "A"
    assert CENTURIES[sign] == born.year // 100 * 100
    individual = f"{rng.randrange(900, 1000):03d}"
    return f"{ddmmyy}{sign}{individual}{check_character(ddmmyy, individual)}"


#: Synthetic names for the demo's contact details and summaries: the free text a real referral
#: carries, which must stay in intake's encrypted store and appear nowhere else.
FIRST_NAMES = ("Aino", "Eino", "Helmi", "Onni", "Sanni", "Veeti", "Kerttu", "Arvo", "Iida", "Toivo")
LAST_NAMES = ("Hakkarainen", "Kettunen", "Leskinen", "Miettinen", "Pesonen", "Räsänen", "Tikkanen", "Väisänen")


def demo_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def demo_referral(rng: random.Random) -> dict[str, Any]:
    kind = rng.choices(get_args(SourceKind), weights=[35, 15, 35, 10, 5])[0]
    source: dict[str, Any] = {"kind": kind}
    if kind == "authority":
        source["authority"] = rng.choice(get_args(AuthorityKind))
    concerns = rng.sample(get_args(ConcernCategory), rng.randint(1, 3))
    name = demo_name(rng)
    return {
        "identity_code": synthetic_identity_code(rng),
        "channel": rng.choice(get_args(Channel)),
        "source": source,
        "concerns": concerns,
        "urgent": rng.random() < 0.1,
        "consent": rng.random() < 0.8,
        "summary": f"{name} asked for help with {concerns[0].replace('_', ' ')}.",
        "contact_details": f"{name}, 040 {rng.randrange(1_000_000, 10_000_000)}",
    }


def distinct_demo_referrals(rng: random.Random, count: int, seen: set[str] | None = None) -> list[dict[str, Any]]:
    """``count`` referrals about as many clients (another about the same client would be
    attached to the open relationship, not open one); ``seen`` carries codes used before."""
    bodies: list[dict[str, Any]] = []
    codes: set[str] = seen if seen is not None else set()
    while len(bodies) < count:
        body = demo_referral(rng)
        if body["identity_code"] not in codes:
            codes.add(body["identity_code"])
            bodies.append(body)
    return bodies


#: Two commands a client information system might get wrong, to show the error replies.
WRONG_COMMANDS: list[dict[str, Any]] = [
    {"identity_code": "010190-900X", "channel": "phone", "source": {"kind": "client"}, "concerns": ["housing"]},
    {"identity_code": "010190-9000", "channel": "fax", "source": {"kind": "client"}, "concerns": ["housing"]},
]


@dataclass
class DemoResult:
    sent: int = 0
    accepted: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    routes: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)

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


async def query_open_relationships(nc: Client, timeout: float = 5.0) -> OpenRelationshipsReply:
    msg = await nc.request(OPEN_RELATIONSHIPS, b"{}", timeout=timeout)
    return msgspec.json.decode(msg.data, type=OpenRelationshipsReply)


async def send_referral(nc: Client, body: dict[str, Any], command_id: str, timeout: float = 10.0) -> dict[str, Any]:
    msg = await nc.request(
        RECEIVE_REFERRAL,
        msgspec.json.encode(body),
        timeout=timeout,
        headers={COMMAND_ID_HEADER: command_id, contracts.H_CORRELATION: str(uuid.uuid4())},
    )
    return msgspec.json.decode(msg.data)


GUIDANCE = {"worker_id": "sg-001", "role": "service_guidance_worker", "team": "team-north"}
DISTRIBUTION = {"worker_id": "sw-001", "role": "social_worker", "team": "team-north"}


async def _intake(nc: Client, name: str, body: dict[str, Any], command_id: str) -> dict[str, Any]:
    msg = await nc.request(
        f"polku.cmd.intake.{name}", msgspec.json.encode(body), timeout=10,
        headers={COMMAND_ID_HEADER: command_id, contracts.H_CORRELATION: str(uuid.uuid4())},
    )
    reply = msgspec.json.decode(msg.data)
    if not reply.get("ok"):
        raise RuntimeError(f"intake refused {name}: {reply['error']['code']}")
    return reply


async def route_through(nc: Client, referral_id: str, *, special: bool, prefix: str) -> dict[str, Any]:
    """Screen (service need assessment needed), triage and route a received referral."""
    await _intake(nc, "screen_referral", {"actor": GUIDANCE, "referral_id": referral_id,
                                          "outcome": "assessment_needed", "motivation": "motivated"}, f"{prefix}-s")
    await _intake(nc, "triage_support_need", {"actor": DISTRIBUTION, "referral_id": referral_id, "positions": {
        "seeks_help": "unable" if special else "able", "needs": "multiple" if special else "single"}}, f"{prefix}-t")
    return await _intake(nc, "route_referral", {"actor": DISTRIBUTION, "referral_id": referral_id}, f"{prefix}-r")


async def run_demo(nc: Client, *, referrals: int = 200, seed: int | None = None, concurrency: int = 32, quiet: bool = False) -> DemoResult:
    rng = random.Random(seed)
    run_id = uuid.uuid4().hex[:12]
    result = DemoResult()
    started = time.perf_counter()
    before = await query_open_relationships(nc, timeout=30)
    result.projected_before = before.total

    progress = Progress("referrals sent", referrals) if not quiet else None
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int, body: dict[str, Any]) -> None:
        async with semaphore:
            reply = await send_referral(nc, body, f"demo-{run_id}-{i}")
            answered = None
            if reply.get("ok"):
                draw = rng.random()
                if draw < 0.3:
                    # Service guidance answers it: advice and guidance, or redirection to Kela.
                    answered = "advice_given" if draw < 0.2 else "redirected"
                    extra = {"redirected_to": "kela"} if answered == "redirected" else {}
                    await _intake(nc, "screen_referral", {"actor": GUIDANCE, "referral_id": reply["referral_id"],
                                                          "outcome": answered, **extra}, f"demo-{run_id}-{i}-s")
                    result.answered[answered] += 1
                else:
                    # An assessment is needed: the distribution team triages (about a third with
                    # special support suspected) and routes.
                    routed = await route_through(nc, reply["referral_id"], special=rng.random() < 0.35, prefix=f"demo-{run_id}-{i}")
                    result.routes[routed["required_role"]] += 1
        result.sent += 1
        if reply.get("ok"):
            result.accepted += 1
            if answered is None:
                referral_ids[i] = reply["referral_id"]
        else:
            result.refused[reply["error"]["code"]] += 1
        if progress:
            progress.update(result.sent)

    bodies = distinct_demo_referrals(rng, referrals)
    referral_ids: dict[int, str] = {}
    await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
    if progress:
        progress.done()
    for i, body in enumerate(WRONG_COMMANDS):
        reply = await send_referral(nc, body, f"demo-{run_id}-wrong-{i}")
        result.refused[reply["error"]["code"]] += 1

    target = before.total + result.routed
    waiting = Progress("relationships projected", result.routed) if not quiet else None
    deadline = time.monotonic() + 120
    while True:
        reply = await query_open_relationships(nc)
        if waiting:
            waiting.update(reply.total - before.total)
        if reply.total >= target or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    if waiting:
        waiting.done()
    result.reply = reply
    result.projected_after = reply.total
    result.streams = await stream_counts(nc.jetstream())

    # The casefile stage: part of the population goes on along the paths of the models.
    rids = [relationship_id_for(uuid.UUID(referral_ids[i])) for i in sorted(referral_ids)]
    stage = Progress("relationships carried on", len(rids)) if not quiet else None
    done = 0

    async def carry(i: int, rid: uuid.UUID) -> None:
        nonlocal done
        path = DEMO_PATHS[i % len(DEMO_PATHS)]
        async with semaphore:
            ok = await _carry(nc, rid, path, f"demo-{run_id}-cf-{i}", result)
        result.paths[path if ok else "refused"] += 1
        done += 1
        if stage:
            stage.update(done)

    await asyncio.gather(*(carry(i, rid) for i, rid in enumerate(rids)))
    if stage:
        stage.done()
    msg = await nc.request(CASEFILE_SUMMARY, b"{}", timeout=10)
    result.casefile_summary = msgspec.json.decode(msg.data)
    result.seconds = time.perf_counter() - started
    result.streams_after = await stream_counts(nc.jetstream())
    return result


CASEFILE_SUMMARY = "polku.qry.casefile.summary"
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
            ("name_own_worker", {"worker_id": "sc-001", "reason": "competence"}),
            ("update_plan", {"kind": "activation_plan", "goals": ["work"], "next_review": review,
                             "options_offered": ["rehabilitative_work_activity", "education"]}),
            ("update_plan", {"kind": "activation_plan", "goals": ["work"], "next_review": review,
                             "chosen_option": "rehabilitative_work_activity"}),
            ("make_decision", {"kind": "rehabilitative_work_activity", "granted": True}),
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
            ("update_plan", {"kind": "client_plan", "goals": ["housing"], "next_review": review,
                             "measures": [{"text": "weekly visits", "responsible": "own_worker"}]}),
            ("determine_nature", {"nature": "continuous"}),
            ("make_decision", {"kind": "supported_living", "granted": True, "secures_care": True}),
        ]
    return []


async def _carry(nc: Client, rid: uuid.UUID, path: str, prefix: str, result: DemoResult) -> bool:
    for n, (name, fields) in enumerate(_steps(path, date.today())):
        body = {"relationship_id": str(rid), "actor": _WORKER, **fields}
        msg = await nc.request(
            f"polku.cmd.casefile.{name}",
            msgspec.json.encode(body),
            timeout=10,
            headers={COMMAND_ID_HEADER: f"{prefix}-{n}"},
        )
        reply = msgspec.json.decode(msg.data)
        if not reply.get("ok"):
            result.casefile_refused[reply["error"]["code"]] += 1
            return False
    return True


def caseload_lines(reply: OpenRelationshipsReply) -> list[str]:
    """Reporting's open relationships per own worker, a line each, then the totals."""
    return [
        *(f"  {w.worker_id:<10} {w.role or '':<18} {w.team or '':<12} {w.open_relationships:>6}" for w in reply.workers),
        f"  {'total':<42} {reply.total:>6}",
        f"  {'without an own worker':<42} {reply.without_own_worker:>6}",
    ]


def format_summary(result: DemoResult) -> str:
    lines = [
        "",
        f"Demo: {result.accepted} referrals accepted, "
        f"{sum(result.refused.values())} refused ({', '.join(f'{k}: {v}' for k, v in sorted(result.refused.items())) or 'none'}), "
        f"in {result.seconds:.1f}s",
        "",
        f"Answered by service guidance: {sum(result.answered.values())} of {result.accepted} "
        f"({sum(result.answered.values()) / max(result.accepted, 1):.0%}; "
        + (", ".join(f"{k}: {v}" for k, v in sorted(result.answered.items())) or "none") + ")",
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
        lines += ["", "Relationships by nature (casefile):"]
        for nature, count in counts["by_nature"].items():
            lines.append(f"  {nature:<42} {count:>6}")
        lines.append(f"  {'not determined':<42} {counts['without_nature']:>6}")
        lines += ["", "Ended relationships by end reason (casefile):"]
        for reason, count in counts["by_end_reason"].items():
            lines.append(f"  {reason:<42} {count:>6}")
        lines.append(f"  {'open':<42} {counts['open']:>6}")
        lines += ["", "Events per stream after the casefile stage:"]
        for name, count in result.streams_after.items():
            lines.append(f"  {name:<10} {count:>8}")
    return "\n".join(lines)
