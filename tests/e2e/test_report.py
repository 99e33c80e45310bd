"""`polku report` as a manager gets it: the demo runs, the report is written, and the file opens
in a browser (headless Chromium, Debian's ``chromium``) with no network and no console error.

The first test needs reporting's indicators query (``polku.qry.reporting.indicators``); the
second renders a hand-built reply (tests/report_helpers.py) and needs no stack."""

from __future__ import annotations

import asyncio
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import msgspec
import pytest
from nats.aio.msg import Msg

from contracts.reporting import INDICATORS, IndicatorsQuery
from demo.population import FIRST_NAMES, LAST_NAMES
from polku.bus import connect
from polku.client import INDICATORS as INDICATORS_QUERY
from polku.report import render
from polku.settings import Settings
from polku.stack import Stack
from tests.e2e.test_cli import ROOT, cli_env, polku
from tests.report_helpers import sample_reply

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
#: a Finnish identity code (henkilötunnus): birth date, century sign, individual number, check
IDENTITY_CODE = re.compile(r"\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]")
#: the sections a manager looks for first, each with its chart
CHARTED = ("active_by_nature", "waiting", "ends_by_reason")


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing: install Debian's chromium (apt-get install chromium), as .ci/run does")
    return CHROMIUM


def open_in_chromium(chromium: Path, page: Path, screenshot: Path) -> str:
    """Open ``page`` in headless Chromium: save a screenshot, return the DOM as Chromium parsed
    it. Fails on any console message (the page has no script: any message is an error)."""
    common = [str(chromium), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
              "--user-data-dir=" + str(screenshot.parent / "chromium-profile"),
              # no network: whatever the page would fetch from elsewhere fails to load
              "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]
    url = page.resolve().as_uri()
    shot = subprocess.run(
        [*common, f"--screenshot={screenshot}", "--window-size=1280,4000", "--enable-logging=stderr", "--v=0", url],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert shot.returncode == 0, shot.stderr[-3000:]
    console = [line for line in shot.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, "console messages:\n" + "\n".join(console)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr[-3000:]
    return dom.stdout


def keep_screenshot(screenshot: Path, name: str) -> Path:
    """A copy under var/ of the repository, for a person to look at; its path is printed."""
    kept = ROOT / "var" / name
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, kept)
    print(f"\nreport screenshot: {screenshot} (copied to {kept})")
    return kept


def assert_sections_with_charts(dom: str) -> None:
    for name in CHARTED:
        match = re.search(rf'<section id="indicator-{name}".*?</section>', dom, re.S)
        assert match, f"no section for {name}"
        assert re.search(rf'<svg id="chart-{name}"', match.group(0)), f"no chart in {name}'s section"


def assert_names_no_one(text: str) -> None:
    assert not IDENTITY_CODE.search(text), IDENTITY_CODE.search(text)
    for name in (*FIRST_NAMES, *LAST_NAMES):
        assert not re.search(rf"\b{name}\b", text), f"a demo client's name in the report: {name}"


class Up:
    """``polku up --demo`` in a process of its own, read line by line."""

    def __init__(self, var: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "polku", "up", "--demo", *args], env=cli_env(var), cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.output.append(line)
            if text in line:
                return
        raise AssertionError(f"no {text!r} from polku up:\n" + "".join(self.output)[-5000:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def test_polku_report_after_the_demo_opens_offline_without_errors_and_names_no_one(
    tmp_path: Path, chromium: Path
) -> None:
    var = tmp_path / "var"
    up = Up(var, "--referrals", "60", "--seed", "7")
    try:
        up.wait_for("Polku is up.", timeout=600)
        out = tmp_path / "report.html"
        result = polku("report", "--out", str(out), var=var, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"Wrote {out.resolve()}" in result.stdout
    finally:
        up.stop()
    page = out.read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "Pienten lukujen suojaus" in page and "Small-count protection" in page
    assert re.search(r'<dd id="positions">[^<]*CASEFILE \d+', page)
    assert_names_no_one(page)
    worker_ids = set(re.findall(r"\b(?:sw|sc|sg|tl)-\d{3}\b", "".join(up.output)))
    assert worker_ids, "the demo printed no worker ids to look for"
    assert not any(w in page for w in worker_ids), "a worker id in the report"

    screenshot = tmp_path / "report.png"
    dom = open_in_chromium(chromium, out, screenshot)
    assert_sections_with_charts(dom)
    keep_screenshot(screenshot, "report-screenshot.png")


def test_a_rendered_report_opens_in_chromium_without_console_errors(tmp_path: Path, chromium: Path) -> None:
    """The page alone, from a hand-built reply: no stack, no indicators query needed."""
    out = tmp_path / "report.html"
    out.write_text(
        render(sample_reply(), threshold=5, lang="both", written_at=datetime(2026, 7, 1, 8, 30, tzinfo=UTC)),
        encoding="utf-8",
    )
    screenshot = tmp_path / "report-sample.png"
    dom = open_in_chromium(chromium, out, screenshot)
    assert_sections_with_charts(dom)
    assert dom.count("<section ") >= 30
    assert_names_no_one(dom)
    keep_screenshot(screenshot, "report-sample-screenshot.png")


async def test_polku_report_writes_what_the_indicators_query_answers_and_says_when_polku_is_not_up(
    tmp_path: Path, settings: Settings
) -> None:
    """The command's own part, on a real NATS with a stand-in for reporting: what it asks, what
    it writes, and what it says when no one answers or NATS is not there."""
    stack = Stack(settings, services=())
    stack.start_nats()
    asked: list[IndicatorsQuery] = []
    try:
        nc = await connect(stack.url, name="stand-in", user="reporting", var_dir=stack.var)

        async def answer(msg: Msg) -> None:
            query = msgspec.json.decode(msg.data, type=IndicatorsQuery)
            asked.append(query)
            reply = msgspec.structs.replace(sample_reply(query.team), period_from=query.period_from, period_to=query.period_to)
            await msg.respond(msgspec.json.encode(reply))

        out = tmp_path / "out" / "report.html"
        args = ("report", "--team", "team-north", "--from", "2026-01-01", "--to", "2026-03-31", "--lang", "fi",
                "--threshold", "3", "--out", str(out))
        # nobody answers the query yet
        result = await asyncio.to_thread(polku, *args, var=settings.var_dir, timeout=120)
        assert result.returncode == 1 and "no answer to polku.qry.reporting.indicators" in result.stderr, result.stderr
        assert not out.exists()

        await nc.subscribe(INDICATORS_QUERY, queue="reporting", cb=answer)
        await nc.flush()
        result = await asyncio.to_thread(polku, *args, var=settings.var_dir, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"Wrote {out.resolve()} (team-north, 2026-01-01 to 2026-03-31" in result.stdout
        await nc.drain()
    finally:
        stack.stop()
    assert asked == [IndicatorsQuery(team="team-north", period_from=date(2026, 1, 1), period_to=date(2026, 3, 31))]
    page = out.read_text(encoding="utf-8")
    assert "1.1.2026–31.3.2026" in page and "team-north" in page
    assert "Lukumäärät 1–2 näytetään muodossa &lt;3" in page
    assert all(f'id="indicator-{name}"' in page for name in INDICATORS)

    result = await asyncio.to_thread(polku, *args, var=settings.var_dir, timeout=60)
    assert result.returncode == 1 and "Is Polku up (polku up)?" in result.stderr, result.stderr
    bad = await asyncio.to_thread(polku, "report", "--from", "2026-02-30", "--out", str(out), var=settings.var_dir)
    assert bad.returncode == 2 and "not an ISO date" in bad.stderr
