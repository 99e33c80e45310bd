"""Stored domain event → contract event: reporting publishes its indicator snapshots."""

from __future__ import annotations

from typing import Any

import msgspec

from contracts import reporting as wire
from polku.relay import envelope, published_topics
from services.reporting.domain import SnapshotSeries

_indicators = msgspec.json.Decoder(list[wire.Indicator])


def snapshot_published(e: SnapshotSeries.Published) -> wire.IndicatorSnapshotPublished:
    return wire.IndicatorSnapshotPublished(
        **envelope(e), snapshot_id=e.snapshot_id, team=e.team, period=e.period,  # type: ignore[arg-type]
        period_from=e.period_from, period_to=e.period_to, threshold=e.threshold,
        indicators=_indicators.decode(e.indicators), replaces=e.replaces,
    )


TABLE: dict[type, Any] = {SnapshotSeries.Published: snapshot_published}
TOPICS = published_topics(TABLE)


def to_contract(domain_event: Any) -> wire.Event | None:
    mapping = TABLE.get(type(domain_event))
    return mapping(domain_event) if mapping else None
