"""Intake's commands and queries in → application calls. Thin: decode, call, reply."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

import msgspec
from faststream.nats import NatsRouter

import contracts
from contracts.intake import (
    AssessUrgentNeed,
    DistributionQueueQuery,
    Done,
    ReceiveReferral,
    ReceiveReferralAccepted,
    RecordAbsence,
    ReferralRoutedReply,
    ReferralStatusQuery,
    RemoveRosterWorker,
    RouteReferral,
    ScreenReferral,
    SetRosterWorker,
    TriageSupportNeed,
)
from polku.batching import GroupCommitter
from polku.commands import decode_command, reply
from polku.service import command_router, handle_request
from services.intake.application import IntakeApplication

RECEIVE_REFERRAL = "polku.cmd.intake.receive_referral"

#: Commands handled at once; concurrent ones are stored together by the group committer.
CONCURRENCY = 64

receive_referral_decoder = msgspec.json.Decoder(ReceiveReferral)


def _trace(message: Any, command_id: str | None) -> dict[str, Any]:
    headers = message.headers or {}
    return {
        "correlation_id": headers.get(contracts.H_CORRELATION) or message.correlation_id,
        "causation_id": command_id,
    }


def build_router(app: IntakeApplication) -> NatsRouter:
    router = command_router()
    committer = GroupCommitter(app)

    @router.subscriber(RECEIVE_REFERRAL, queue="intake", max_workers=CONCURRENCY)
    async def receive_referral(message):  # type: ignore[no-untyped-def]  # the NatsMessage itself
        async def call(command_id: str | None, ids: dict[str, str]) -> bytes:
            assert command_id is not None
            command = decode_command(receive_referral_decoder, message.body)
            received = await committer.submit(
                partial(app.decide_referral, command, command_id=command_id, trace=_trace(message, command_id))
            )
            ids["referral_id"] = str(received.referral_id)
            return reply(ReceiveReferralAccepted(referral_id=received.referral_id, client_id=received.client_id))

        return await handle_request(RECEIVE_REFERRAL, message, call)

    def worker_command(name: str, command_type: type, decide: Callable[..., Any], answer: Callable[[Any, Any], Any]) -> None:
        """A worker's command: decoded, decided and stored in a group, answered.

        A retried command (same Polku-Command-Id, same body) is answered from its first outcome,
        which the aggregate it changed remembers with the digest of the body; the same id on a
        different command is refused with ``command_id_reused``."""
        subject = f"polku.cmd.intake.{name}"
        decoder = msgspec.json.Decoder(command_type)

        @router.subscriber(subject, queue="intake", max_workers=CONCURRENCY)
        async def handler(message):  # type: ignore[no-untyped-def]
            async def call(command_id: str | None, ids: dict[str, str]) -> bytes:
                command = decode_command(decoder, message.body)
                for key in ("referral_id", "worker_id"):
                    if getattr(command, key, None) is not None:
                        ids[key] = str(getattr(command, key))
                result = await committer.submit(partial(decide, command, trace=_trace(message, command_id)))
                return reply(answer(command, result))

            return await handle_request(subject, message, call)

    worker_command("screen_referral", ScreenReferral, app.decide_screening,
                   lambda c, stage: Done(referral_id=c.referral_id, stage=stage))
    worker_command("assess_urgent_need", AssessUrgentNeed, app.decide_urgent_assessment,
                   lambda c, stage: Done(referral_id=c.referral_id, stage=stage))
    worker_command("triage_support_need", TriageSupportNeed, app.decide_triage,
                   lambda c, stage: Done(referral_id=c.referral_id, stage=stage))
    worker_command("route_referral", RouteReferral, app.decide_routing,
                   lambda c, r: ReferralRoutedReply(
                       referral_id=r.referral_id, worker_id=r.worker_id, team=r.team,
                       required_role=r.required_role, special_support_suspected=r.special_support_suspected))
    worker_command("set_roster_worker", SetRosterWorker, app.decide_set_worker,
                   lambda c, worker_id: Done(worker_id=worker_id))
    worker_command("remove_roster_worker", RemoveRosterWorker, app.decide_remove_worker,
                   lambda c, worker_id: Done(worker_id=worker_id))
    worker_command("record_absence", RecordAbsence, app.decide_absence,
                   lambda c, worker_id: Done(worker_id=worker_id))

    status_decoder = msgspec.json.Decoder(ReferralStatusQuery)
    queue_decoder = msgspec.json.Decoder(DistributionQueueQuery)

    @router.subscriber("polku.qry.intake.referral_status", queue="intake")
    async def referral_status(message):  # type: ignore[no-untyped-def]
        async def call(_cid: str | None, ids: dict[str, str]) -> bytes:
            query = decode_command(status_decoder, message.body)
            ids["referral_id"] = str(query.referral_id)
            return reply(await asyncio.to_thread(app.referral_status, query.referral_id))

        return await handle_request("polku.qry.intake.referral_status", message, call, needs_command_id=False)

    @router.subscriber("polku.qry.intake.distribution_queue", queue="intake")
    async def distribution_queue(message):  # type: ignore[no-untyped-def]
        async def call(_cid: str | None, _ids: dict[str, str]) -> bytes:
            query = decode_command(queue_decoder, message.body)
            return reply(await asyncio.to_thread(app.distribution_queue, query.team))

        return await handle_request("polku.qry.intake.distribution_queue", message, call, needs_command_id=False)

    return router
