"""Reading a service's ``/metrics`` in tests: the samples of the Prometheus text format."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from polku.endpoints import get


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """``{(sample name, its labels): value}`` from ``url``'s ``/metrics``."""
    status, body = get(url + "/metrics", timeout=10)
    assert status == 200, body
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    """The sample ``name`` with exactly ``labels``, or None when there is none."""
    return samples.get((name, frozenset(labels.items())))


def values(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every sample named ``name``, by its labels."""
    return {labels: v for (n, labels), v in samples.items() if n == name}
