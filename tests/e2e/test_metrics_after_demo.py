"""What operations staff scrape after the demo: `polku up --demo`, then every service's
/metrics, /healthz and /readyz, and `polku status`."""

from __future__ import annotations

import asyncio
import json
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec
import pytest

import contracts
from demo.population import demo_referral
from polku.bus import connect
from polku.endpoints import get, service_url
from tests.e2e.test_cli import ROOT, cli_env, polku
from tests.metrics_helpers import scrape, value, values

pytestmark = pytest.mark.e2e

SERVICES = ("intake", "casefile", "followup", "reporting")
REFERRALS, SEED = 30, 11

#: the poison the operator puts on the streams, by subject: each of the stream's three
#: consumers (each given the subject) dead-letters each message once
POISON = {
    "polku.intake.roster_worker_set": [b"not json", msgspec.json.encode({"event": "RosterWorkerSet", "event_id": "x"})],
    "polku.casefile.relationship_opened": [b"[1, 2"],
}
DEAD_LETTERED = {
    "casefile-intake": 2, "followup-intake": 2, "reporting-intake": 2,
    "intake-casefile": 1, "followup-casefile": 1, "reporting-casefile": 1,
    "casefile-followup": 0, "reporting-followup": 0,
}


class Up:
    """`polku up --demo` in a process of its own, its output collected by a thread."""

    def __init__(self, var: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "polku", "up", "--demo", "--referrals", str(REFERRALS), "--seed", str(SEED)],
            env=cli_env(var), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def out(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.out:
            assert self.process.poll() is None, self.out[-3000:]
            assert time.monotonic() < deadline, f"no {text!r} after {timeout}s: {self.out[-3000:]}"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def _poison_and_count_dlq(var: Path) -> int:
    """Publish the poison as the operator (the only user who may); the DLQ's message count
    once every consumer has dead-lettered it."""
    url = (var / "run" / "nats.url").read_text().strip()
    nc = await connect(url, name="polku-test-operator", user="operator", var_dir=var)
    try:
        js = nc.jetstream()
        for subject, messages in POISON.items():
            for i, data in enumerate(messages):
                await js.publish(subject, data, headers={contracts.H_MSG_ID: f"poison-{subject}-{i}"})
        expected = sum(DEAD_LETTERED.values())
        for _ in range(300):
            held = (await js.stream_info("DLQ")).state.messages
            if held >= expected:
                return held
            await asyncio.sleep(0.1)
        return held
    finally:
        await nc.close()


def _settled(var: Path) -> dict[str, dict]:
    """Every service's samples once its relay and consumers have nothing left to do."""
    deadline = time.monotonic() + 60
    while True:
        scraped = {name: scrape(service_url(var, name)) for name in SERVICES}
        lags = [
            v for samples in scraped.values()
            for name in ("polku_relay_lag", "polku_consumer_lag") for v in values(samples, name).values()
        ]
        if lags and not any(lags):
            return scraped
        assert time.monotonic() < deadline, f"lags not at zero: {lags}"
        time.sleep(0.2)


def test_after_the_demo_every_service_counts_its_commands_has_no_lag_and_counts_the_dead_letters(
    tmp_path: Path,
) -> None:
    var = tmp_path / "var"
    up = Up(var)
    try:
        up.wait_for("Polku is up.", timeout=240)
        accepted, refused = re.search(r"Demo: (\d+) referrals accepted, (\d+) refused \((.*?)\)", up.out).group(1, 3)
        refusals = {code: int(n) for code, n in re.findall(r"(\w+): (\d+)", refused)}
        assert "/metrics, /healthz, /readyz: intake http://127.0.0.1:" in up.out

        held = asyncio.run(_poison_and_count_dlq(var))
        assert held == sum(DEAD_LETTERED.values())
        scraped = _settled(var)

        for name in SERVICES:
            url = service_url(var, name)
            status, body = get(url + "/readyz")
            assert (status, json.loads(body)) == (200, {"ready": True, "service": name, "why": None})
            assert get(url + "/healthz")[0] == 200
            assert value(scraped[name], "polku_ready", service=name) == 1
            assert value(scraped[name], "polku_relay_lag", service=name) == 0
            assert value(scraped[name], "polku_relay_published_total", service=name) > 0

        # the commands, by subject and outcome: what the demo's summary says it sent
        intake = scraped["intake"]
        receive = "polku.cmd.intake.receive_referral"
        assert value(intake, "polku_commands_total", service="intake", subject=receive, outcome="ok") == int(accepted)
        for code, n in refusals.items():
            assert value(intake, "polku_commands_total", service="intake", subject=receive, outcome=code) == n
        assert value(intake, "polku_command_duration_seconds_count", service="intake", subject=receive) == (
            int(accepted) + sum(refusals.values())
        )
        # every request was answered: none is still in process
        assert value(intake, "polku_commands_in_process", service="intake") == 0
        for name in ("intake", "casefile", "followup"):
            assert value(scraped[name], "polku_group_commit_syncs_total", service=name) > 0
            assert value(scraped[name], "polku_group_commit_size_count", service=name) > 0
        assert value(scraped["casefile"], "polku_aggregate_reads_total", service="casefile", outcome="hit") > 0
        assert value(scraped["followup"], "polku_deadlines_overdue", service="followup") == 0
        assert value(scraped["followup"], "polku_deadlines_pending", service="followup") is not None

        # every durable consumer, no lag, and the dead letters it sent: those the test put there
        dead = {}
        for name, samples in scraped.items():
            for labels, v in values(samples, "polku_consumer_lag").items():
                assert v == 0, (name, labels)
            for labels, v in values(samples, "polku_consumer_dead_lettered_total").items():
                dead[dict(labels)["consumer"]] = v
        assert dead == DEAD_LETTERED
        assert sum(dead.values()) == held

        # labels name subjects, codes and consumers only: no client's identity code anywhere
        rng = random.Random(SEED)
        codes = [demo_referral(rng)["identity_code"] for _ in range(REFERRALS)]
        for name in SERVICES:
            page = get(service_url(var, name) + "/metrics")[1].decode()
            assert not any(code in page for code in codes)

        # `polku status` says the same: ready, from each service's /readyz. Reporting's ticker
        # may store a chunk of snapshots at any moment, which its relay then publishes: the
        # relay lag is asked again until it is back at zero.
        deadline = time.monotonic() + 60
        while True:
            status = polku("status", var=var, timeout=60)
            assert status.returncode == 0, status.stderr
            lines = {name: re.search(rf"^  {name}\s+ready \(pid \d+\); relay lag (\d+)", status.stdout, re.M) for name in SERVICES}
            assert all(lines.values()), status.stdout
            if all(m.group(1) == "0" for m in lines.values()):
                break
            assert time.monotonic() < deadline, status.stdout
            time.sleep(0.5)
        assert "dead-lettered since start 2" in status.stdout
    finally:
        up.stop()
    assert "Stopped." in up.out
    assert not any((var / "run" / f"{name}.http").exists() for name in SERVICES)
