"""Casefile's commands and queries in → application calls. Thin: decode, call, reply.

Commands: ``polku.cmd.casefile.<command>``, one per use case (see ``contracts.COMMANDS``);
concurrent ones are stored together by the group committer. Queries of a client's record
(``relationship``, ``timeline``) are logged as ClientRecordViewed, granted or not.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import msgspec
from faststream.nats import NatsMessage, NatsRouter

import contracts
from contracts import casefile as cmd
from polku.batching import GroupCommitter
from polku.commands import CommandRefused, decode_command, reply
from polku.service import command_router, handle_request
from services.casefile.application import CasefileApplication

#: Commands handled at once; concurrent ones are stored together by the group committer.
CONCURRENCY = 64

COMMAND_TYPES: dict[str, type[cmd.CasefileCommand]] = {
    spec.name: spec.request
    for spec in contracts.COMMANDS
    if spec.service == "casefile" and spec.kind == "cmd"
}
RECORD_QUERIES = {"relationship": "state", "timeline": "timeline"}
SUMMARY = "polku.qry.casefile.summary"

_record_query_decoder = msgspec.json.Decoder(cmd.RecordQuery)
_summary_decoder = msgspec.json.Decoder(cmd.SummaryQuery)


def _trace(message: NatsMessage, causation_id: str | None) -> dict[str, Any]:
    headers = message.headers or {}
    return {
        "correlation_id": headers.get(contracts.H_CORRELATION) or message.correlation_id,
        "causation_id": causation_id,
    }


def build_router(app: CasefileApplication) -> NatsRouter:
    router = command_router()
    committer = GroupCommitter(app)

    def command_handler(name: str, command_type: type[cmd.CasefileCommand]) -> None:
        subject = f"polku.cmd.casefile.{name}"
        decoder = msgspec.json.Decoder(command_type)

        @router.subscriber(subject, queue="casefile", max_workers=CONCURRENCY)
        async def handle(message):  # type: ignore[no-untyped-def]  # the NatsMessage itself
            body = message.body
            async def call(command_id: str | None, ids: dict[str, str]) -> bytes:
                assert command_id is not None
                command = decode_command(decoder, body)
                ids["relationship_id"] = str(command.relationship_id)
                accepted = await committer.submit(
                    partial(app.decide, command, command_id=command_id, trace=_trace(message, command_id))
                )
                return reply(msgspec.convert(accepted, cmd.CasefileAccepted))

            return await handle_request(subject, message, call)

    for name, command_type in COMMAND_TYPES.items():
        command_handler(name, command_type)

    def query_handler(name: str, part: str) -> None:
        subject = f"polku.qry.casefile.{name}"

        @router.subscriber(subject, queue="casefile", max_workers=CONCURRENCY)
        async def handle(message):  # type: ignore[no-untyped-def]  # the NatsMessage itself
            body = message.body
            async def call(_command_id: str | None, ids: dict[str, str]) -> bytes:
                query = decode_command(_record_query_decoder, body)
                ids["relationship_id"] = str(query.relationship_id)
                result = await committer.submit(
                    partial(app.decide_view, query, part, trace=_trace(message, None))
                )
                if isinstance(result, CommandRefused):
                    raise result
                return reply(result)

            return await handle_request(subject, message, call, needs_command_id=False)

    for name, part in RECORD_QUERIES.items():
        query_handler(name, part)

    @router.subscriber(SUMMARY, queue="casefile")
    async def summary(message):  # type: ignore[no-untyped-def]  # the NatsMessage itself
        body = message.body
        async def call(_command_id: str | None, _ids: dict[str, str]) -> bytes:
            decode_command(_summary_decoder, body or b"{}")
            return reply(await asyncio.to_thread(app.summary))

        return await handle_request(SUMMARY, message, call, needs_command_id=False)

    return router
