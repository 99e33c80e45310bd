"""`/readyz` says "not ready" while a service replays its store at start, and ready after."""

from __future__ import annotations

import json
import re
import os
import random
import socket
import subprocess
import sys
import time

import msgspec

from contracts.intake import ReceiveReferral
from polku.endpoints import get
from polku.settings import Settings
from polku.stack import EXIT_CONFIG, Stack
from services.intake.main import build_application as build_intake
from services.intake.main import build_pipeline as build_intake_pipeline
from tests.helpers import referral_body
from tests.metrics_helpers import scrape, value

REFERRALS = 2000


def _store_with_history(settings: Settings) -> int:
    """Intake's store with ``REFERRALS`` referrals in it (written in process, as a long-running
    service's store would be); its last position."""
    app = build_intake(settings)
    pipeline = build_intake_pipeline(app, settings)
    rng = random.Random(14)
    try:
        for start in range(0, REFERRALS, 250):
            batch = [
                (msgspec.convert(referral_body(rng), ReceiveReferral), f"history-{i}")
                for i in range(start, min(start + 250, REFERRALS))
            ]
            assert all(ok for ok, _ in pipeline.execute_batch(batch))
        return app.max_position()
    finally:
        app.close()


def test_readyz_is_false_while_intake_replays_its_store_and_true_after(settings: Settings) -> None:
    events = _store_with_history(settings)
    stack = Stack(settings, services=("intake",))
    try:
        stack.start_nats()
        stack.start_service("intake")
        while_replaying: list[tuple[str, float, float]] = []
        deadline = time.monotonic() + 120
        while True:
            assert time.monotonic() < deadline, f"intake not ready; seen: {while_replaying[-3:]}"
            assert stack.processes["intake"].process.poll() is None, "intake exited"
            url = stack.http_url("intake")
            if url is None:
                time.sleep(0.005)
                continue
            status, body = get(url + "/readyz")
            answer = json.loads(body)
            if status == 200:
                assert answer["ready"] is True
                break
            assert status == 503 and answer["ready"] is False and answer["why"]
            # the scrape comes after /readyz: a replay not done by then was not done at /readyz
            samples = scrape(url)
            replayed = value(samples, "polku_replay_events", service="intake") or 0
            target = value(samples, "polku_replay_target_events", service="intake") or 0
            if replayed < target:
                assert value(samples, "polku_ready", service="intake") == 0
                while_replaying.append((answer["why"], replayed, target))
        # it said so while the replay had not reached the store's end
        assert while_replaying, "no /readyz answer came while intake replayed"
        assert all(why.startswith("replaying its store") for why, _, _ in while_replaying), while_replaying
        assert any(re.fullmatch(rf"replaying its store \(\d+ of {events} events\)", why) for why, _, _ in while_replaying)
        assert {target for _, _, target in while_replaying} == {events}
        samples = scrape(url)
        assert value(samples, "polku_replay_events", service="intake") == events
        assert value(samples, "polku_replay_target_events", service="intake") == events
        assert value(samples, "polku_ready", service="intake") == 1
        status, body = get(url + "/healthz")
        assert status == 200 and json.loads(body)["alive"] is True
    finally:
        stack.stop()


def test_a_taken_http_port_stops_the_service_at_start_naming_the_setting(settings: Settings) -> None:
    """Not a crash for `polku up` to restart again and again: a setting to change (exit 78)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "polku", "serve", "intake"], env={**os.environ, "POLKU_HTTP_PORT": str(port)},
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == EXIT_CONFIG, result.stderr
    assert f"POLKU_HTTP_HOST/POLKU_HTTP_PORT: cannot listen on 127.0.0.1:{port}" in result.stderr
