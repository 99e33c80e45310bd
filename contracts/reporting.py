"""Reporting's published language: the queries it serves and their replies (no events yet)."""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from contracts.base import Code, Query
from contracts.vocabulary import WorkerRole


class WorkerCaseload(msgspec.Struct, frozen=True, kw_only=True):
    worker_id: Code
    role: WorkerRole | None
    team: Code | None
    open_relationships: int


class OpenRelationshipsReply(msgspec.Struct, frozen=True, kw_only=True):
    ok: Literal[True] = True
    total: int
    without_own_worker: int
    workers: list[WorkerCaseload]
    position: int


class OpenRelationshipsQuery(Query, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``polku.qry.reporting.open_relationships``: open relationships per own worker."""

    reply: ClassVar[type] = OpenRelationshipsReply

    team: Code | None = None


#: Reporting's own error codes: none besides the generic ones of ``contracts.base``.
ERROR_CODES: dict[str, str] = {}
