"""Reporting's queries in → read model reads. Thin: decode, read, reply."""

from __future__ import annotations

import asyncio

import msgspec
from faststream.nats import NatsRouter

from contracts.reporting import OpenRelationshipsQuery
from polku.commands import decode_command, reply
from polku.service import command_router, handle_request
from services.reporting.projections import OpenRelationshipsView

OPEN_RELATIONSHIPS = "polku.qry.reporting.open_relationships"

open_relationships_decoder = msgspec.json.Decoder(OpenRelationshipsQuery)


def build_router(view: OpenRelationshipsView) -> NatsRouter:
    router = command_router()

    @router.subscriber(OPEN_RELATIONSHIPS, queue="reporting")
    async def open_relationships(message):  # type: ignore[no-untyped-def]  # the NatsMessage itself
        body = message.body
        async def call(_command_id: str | None, _ids: dict[str, str]) -> bytes:
            query = decode_command(open_relationships_decoder, body or b"{}")
            return reply(await asyncio.to_thread(view.query, query.team))

        return await handle_request(OPEN_RELATIONSHIPS, message, call, needs_command_id=False)

    return router
