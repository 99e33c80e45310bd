"""The ``polku`` command.

    polku up [--demo]            start NATS and the services; serve until Ctrl-C
    polku demo                   the same with the demo, then stop and exit 0
    polku serve SERVICE          run one service in this process (what `up` starts)
    polku rebuild SERVICE        rebuild a service's read models
    polku republish SERVICE      publish a service's stored events again (a lost stream)
    polku status                 events per stream and open relationships per worker
    polku report --out FILE      reporting's indicators as one HTML file a manager opens
    polku contracts --out DIR    write asyncapi.json and the JSON Schemas
    polku bench                  run the benchmarks in bench/
"""

from __future__ import annotations

import argparse
import os
import asyncio
import signal
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polku.settings import Settings, SettingsError

if TYPE_CHECKING:
    from polku.service import ServiceDefinition


def _settings(*, keys: bool = True) -> Settings:
    try:
        return Settings.from_env(keys=keys)
    except SettingsError as e:
        print(f"polku: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def _definition(name: str) -> ServiceDefinition:
    from polku.registry import RegistryError, service

    try:
        return service(name)
    except RegistryError as e:
        print(f"polku: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def _cli_logging(settings: Settings) -> None:
    from polku import log

    (settings.var_dir / "log").mkdir(parents=True, exist_ok=True)
    # The CLI's own lines go to its log file; the terminal shows progress and the summary.
    log.configure(
        "cli", fmt="json", level=settings.log_level, file=settings.var_dir / "log" / "cli.jsonl",
        stream=open("/dev/null", "w"), max_bytes=settings.log_max_bytes, backups=settings.log_backups,
    )


# ------------------------------------------------------------------------ up / demo
def cmd_up(args: argparse.Namespace, *, exit_after_demo: bool = False) -> int:
    from polku import registry
    from polku.endpoints import readiness
    from polku.stack import Stack

    if args.demo or exit_after_demo:
        # The demo makes its own keys under var/keys/ when none are set; the services it starts
        # inherit POLKU_DEMO and read the same ones. Plain `polku up` needs POLKU_PSEUDONYM_KEY.
        os.environ["POLKU_DEMO"] = "1"
    settings = _settings()
    try:
        # Each service reads its own settings: a value it cannot use stops `up` before anything starts.
        for definition in registry.services().values():
            if definition.settings is not None:
                definition.settings()
        run_demo = registry.demo() if args.demo or exit_after_demo else None
    except (SettingsError, registry.RegistryError) as e:
        print(f"polku: {e}", file=sys.stderr)
        return 2
    _cli_logging(settings)
    stack = Stack(settings)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started = time.perf_counter()
    try:
        print(f"Starting NATS (JetStream under {settings.var_dir / 'nats'}) ...", flush=True)
        url = stack.start_nats()
        print(f"  NATS ready at {url}", flush=True)
        for name in stack.services:
            stack.start_service(name)
        print(f"Starting services: {', '.join(stack.services)} ...", flush=True)
        stack.wait_ready(
            timeout=None,
            waiting=lambda name, seconds: print(
                f"  still waiting for {name} ({seconds:.0f}s): "
                f"{(readiness(settings.var_dir, name) or {}).get('why') or 'starting'}; "
                f"see {settings.var_dir / 'log' / (name + '.jsonl')}",
                flush=True,
            ),
            cancelled=lambda: stopping,
        )
        print(f"  ready in {time.perf_counter() - started:.1f}s; logs in {settings.var_dir / 'log'}", flush=True)
        urls = ", ".join(f"{name} {stack.http_url(name)}" for name in stack.services)
        print(f"  /metrics, /healthz, /readyz: {urls}", flush=True)

        if run_demo is not None:
            # The demo is a client of the published API, found through the entry point group
            # polku.demo (polku/registry.py): it gets the NATS URL and returns its summary.
            print(run_demo(url, referrals=args.referrals, seed=args.seed), flush=True)
            if exit_after_demo:
                return 0
        print("\nPolku is up. Commands: polku.cmd.<service>.<command> on " + url + ". Ctrl-C stops.", flush=True)
        while not stopping:
            for name in stack.supervise():
                print(f"  service {name} had stopped; restarted it", flush=True)
            time.sleep(0.5)
        return 0
    except RuntimeError as e:  # StackError, or the demo's finding (a RuntimeError too)
        print(f"polku: {e}", file=sys.stderr)
        return 1
    finally:
        print("Stopping ...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)


# ------------------------------------------------------------------------- serve
def cmd_serve(args: argparse.Namespace) -> int:
    from polku.service import run

    _definition(args.service)  # an unknown name is said plainly
    run(args.service)
    return 0


# ----------------------------------------------------------------------- rebuild
def cmd_rebuild(args: argparse.Namespace) -> int:
    definition = _definition(args.service)
    if definition.rebuild is None:
        print(f"{args.service} has no read models to rebuild outside its event store: nothing to rebuild.")
        return 0
    settings = _settings()
    _cli_logging(settings)
    return definition.rebuild(settings)


# --------------------------------------------------------------------- republish
def cmd_republish(args: argparse.Namespace) -> int:
    import contracts
    from polku.bus import connect, ensure_streams, published_position
    from polku.progress import Progress
    from polku.relay import publish_all, to_outgoing

    definition = _definition(args.service)
    if definition.republish_source is None:
        print(f"{args.service} publishes no events of its own: nothing to republish.")
        return 0
    settings = _settings()
    _cli_logging(settings)
    source = definition.republish_source(settings)
    app = source.app
    stream = contracts.SERVICE_STREAM[args.service]

    async def run() -> int:
        nc = await connect(settings.resolved_nats_url(), name="polku-republish", user="operator", var_dir=settings.var_dir, wait=5)
        js = nc.jetstream()
        await ensure_streams(js, settings.stream_replicas)
        start = args.from_position
        if start is None:
            start = await published_position(js, stream) + 1
        end = app.max_position()
        total = max(end - start + 1, 0)
        progress = Progress(f"{stream} store positions republished", total)
        published = duplicates = 0
        position = start
        while position <= end:
            # Only the topics the service publishes: what stays inside it is passed over in SQL.
            page = await asyncio.to_thread(
                app.recorder.select_notifications, position, 1000, end, source.published_topics
            )
            if not page:
                break
            messages = await asyncio.to_thread(to_outgoing, app, source.publishing, page)
            duplicates += await publish_all(nc, messages)
            published += len(messages)
            position = page[-1].id + 1
            progress.update(page[-1].id - start + 1)
        progress.update(total)
        progress.done()
        await nc.drain()
        print(
            f"{stream}: {published} events of store positions {start}..{end} published again "
            f"({duplicates} were already there)"
        )
        if duplicates:
            print(
                f"  JetStream dropped {duplicates} as duplicates: their Nats-Msg-Id was seen within the "
                "stream's duplicate window (2 minutes). If the stream lost them, run this again after the window."
            )
        return 0

    try:
        return asyncio.run(run())
    except ConnectionError as e:
        print(f"polku: {e}. Is Polku up (polku up)?", file=sys.stderr)
        return 1
    finally:
        app.close()


# ------------------------------------------------------------------------ status
async def _service_line(client: Any, settings: Settings, name: str) -> str:
    """One service for `polku status`: its readiness from its ``/readyz`` (what an orchestrator
    probes), its lags from its health answer on NATS; either one alone when the other is silent."""
    from polku.endpoints import readiness, service_url

    ready = await asyncio.to_thread(readiness, settings.var_dir, name)
    try:
        health: dict[str, Any] | None = await client.health(name, timeout=2)
    except Exception:  # noqa: BLE001 - no answer is the answer
        health = None
    if ready is None and health is None:
        return f"  {name:<12} NOT ANSWERING"
    if ready is not None:
        state = "ready" if ready.get("ready") else f"NOT READY: {ready.get('why')}"
    else:  # no /readyz (an older service, or its port not reachable from here): NATS says it
        state = "up" if health.get("ok", True) else "TURNING COMMANDS AWAY"
    line = f"  {name:<12} {state}"
    if health is not None:
        line += f" (pid {health['pid']})"
        if "relay" in health:
            line += f"; relay lag {health['relay']['lag']}"
        lags = health.get("consumers", {})
        if lags:
            line += f"; consumer lag {sum(c['lag'] for c in lags.values())}"
            dead = sum(c["dead_lettered"] for c in lags.values())
            line += f"; dead-lettered since start {dead}" if dead else ""
    url = service_url(settings.var_dir, name)
    return line + (f"; {url}/metrics" if url else "")


def cmd_status(_args: argparse.Namespace) -> int:
    """For operations staff: is each service up, how far behind is each consumer, what do the
    streams hold, and the open relationships per own worker. Names no client."""
    from polku import registry
    from polku.client import Client, caseload_lines

    settings = _settings(keys=False)  # reads no store

    async def run() -> int:
        client = await Client.connect(
            settings.resolved_nats_url(), name="polku-status", user="operator", var_dir=settings.var_dir, wait=3
        )
        lines: list[str] = ["Services:"]
        try:
            for name in registry.names():
                lines.append(await _service_line(client, settings, name))
            js = client.nc.jetstream()
            counts = await client.stream_counts()
            lines += ["", "Streams (messages):", *(f"  {name:<10} {count:>8}" for name, count in counts.items())]
            lines += ["", "Consumers (durable; pending = not yet delivered, unacked = delivered, not acked):"]
            for stream in counts:
                try:
                    consumers = await js.consumers_info(stream)
                except Exception:  # noqa: BLE001 - a missing stream has no consumers
                    continue
                for c in sorted(consumers, key=lambda c: c.name):
                    lines.append(
                        f"  {c.name:<22} on {stream:<9} at {c.delivered.stream_seq:>8}  "
                        f"pending {c.num_pending:>6}  unacked {c.num_ack_pending:>5}"
                    )
            try:
                reply = await client.open_relationships(timeout=3)
            except Exception:  # noqa: BLE001 - reporting down: said above
                reply = None
            if reply is not None:
                lines += ["", f"Open relationships per own worker (reporting, at CASEFILE {reply.position}):"]
                lines += caseload_lines(reply)
        finally:
            await client.close()
        print("\n".join(lines))
        return 0

    try:
        return asyncio.run(run())
    except ConnectionError as e:
        print(f"polku: {e}. Is Polku up (polku up)?", file=sys.stderr)
        return 1


# ------------------------------------------------------------------------ report
def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def cmd_report(args: argparse.Namespace) -> int:
    """Ask reporting for its indicators and write them, suppressed, as one self-contained HTML
    file (polku/report.py). Names no client and no worker."""
    from datetime import UTC, datetime

    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeoutError

    from polku.client import INDICATORS as INDICATORS_QUERY
    from polku.client import Refusal
    from polku.report import fetch, render

    if args.period_from and args.period_to and args.period_from > args.period_to:
        print(f"polku: --from {args.period_from} is after --to {args.period_to}", file=sys.stderr)
        return 2
    if args.threshold < 2:
        print("polku: --threshold is at least 2", file=sys.stderr)
        return 2
    settings = _settings(keys=False)  # reads no store
    try:
        reply = fetch(settings, args.team, args.period_from, args.period_to)
    except ConnectionError as e:
        print(f"polku: {e}. Is Polku up (polku up)?", file=sys.stderr)
        return 1
    except (NoRespondersError, NatsTimeoutError, TimeoutError):
        print(
            f"polku: no answer to {INDICATORS_QUERY}: is Polku up with its reporting service (polku up, polku status)?",
            file=sys.stderr,
        )
        return 1
    except Refusal as e:
        print(f"polku: {e}", file=sys.stderr)
        return 1
    page = render(reply, threshold=args.threshold, lang=args.lang, written_at=datetime.now(UTC).replace(microsecond=0))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    team = reply.team or "all teams"
    print(
        f"Wrote {out.resolve()} ({team}, {reply.period_from.isoformat()} to {reply.period_to.isoformat()}, "
        f"{len(reply.indicators)} indicators, counts below {args.threshold} suppressed)"
    )
    return 0


# --------------------------------------------------------------------- contracts
def cmd_contracts(args: argparse.Namespace) -> int:
    from contracts.asyncapi import write

    for path in write(Path(args.out)):
        print(path)
    return 0


# ----------------------------------------------------------------------- streams
def cmd_streams(args: argparse.Namespace) -> int:
    """Create the missing streams and check the others, as the NATS ``operator`` (production:
    before the services); ``--apply`` sets back what differs from Polku's configuration (but
    what an operator tuned on the server: limits, the duplicate window)."""
    from polku.stack import create_streams

    settings = _settings()
    apply = bool(getattr(args, "apply", False))
    report = create_streams(settings.resolved_nats_url(), settings.var_dir, settings.stream_replicas, apply=apply)
    for line in report:
        print(line)
    pending = [line for line in report if "`polku streams --apply`" in line]
    print(f"{len(pending)} difference(s) left as they are; `polku streams --apply` sets them" if pending else "streams as Polku needs them")
    return 0


# ------------------------------------------------------------------------- bench
def cmd_bench(args: argparse.Namespace) -> int:
    from bench.run import main as bench_main

    return bench_main(args)


#: The services are found through entry points (polku/registry.py); the parser does not load
#: them, so that `polku serve` imports only the service it runs.
SERVICE_HELP = "an installed service: one registered in the entry point group polku.services"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polku", description="Polku: the client path of adult social work, event-sourced.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start NATS and the services; serve until Ctrl-C")
    up.add_argument("--demo", action="store_true", help="feed demo referrals and print what happened")
    up.add_argument("--referrals", type=int, default=200, help="demo referrals (default 200)")
    up.add_argument("--seed", type=int, default=None, help="seed of the demo's random population")
    up.set_defaults(func=cmd_up)

    demo = sub.add_parser("demo", help="like `up --demo`, then stop and exit 0")
    demo.add_argument("--referrals", type=int, default=200)
    demo.add_argument("--seed", type=int, default=None)
    demo.set_defaults(func=lambda a: cmd_up(a, exit_after_demo=True), demo=True)

    serve = sub.add_parser("serve", help="run one service in this process")
    serve.add_argument("service", help=SERVICE_HELP)
    serve.set_defaults(func=cmd_serve)

    rebuild = sub.add_parser("rebuild", help="rebuild a service's read models")
    rebuild.add_argument("service", help=SERVICE_HELP)
    rebuild.set_defaults(func=cmd_rebuild)

    republish = sub.add_parser("republish", help="publish a service's stored events to its stream again")
    republish.add_argument("service", help=SERVICE_HELP)
    republish.add_argument("--from", dest="from_position", type=int, default=None, help="store position to start from (default: after the stream's last)")
    republish.set_defaults(func=cmd_republish)

    status = sub.add_parser("status", help="events per stream and open relationships per worker")
    status.set_defaults(func=cmd_status)

    report = sub.add_parser(
        "report",
        help="write reporting's indicators as one self-contained HTML file",
        description="Ask reporting for its indicators and write them as one HTML file that opens offline: "
        "charts and small tables with Finnish and English labels. Counts from 1 to threshold-1 are shown as "
        "<threshold, and other cells are hidden so that they cannot be worked out from totals. "
        "Needs Polku up (polku up).",
    )
    report.add_argument("--team", default=None, metavar="TEAM", help="one team's code (default: all teams)")
    report.add_argument("--from", dest="period_from", type=_iso_date, default=None, metavar="DATE",
                        help="first day of the period, YYYY-MM-DD (default: 1 January of this year)")
    report.add_argument("--to", dest="period_to", type=_iso_date, default=None, metavar="DATE",
                        help="last day of the period, YYYY-MM-DD (default: today)")
    report.add_argument("--lang", choices=("fi", "en", "both"), default="both", help="labels' language (default both)")
    report.add_argument("--threshold", type=int, default=5, metavar="N",
                        help="suppression threshold: counts from 1 to this minus one are shown as <threshold (default 5)")
    report.add_argument("--out", required=True, metavar="FILE", help="the HTML file to write")
    report.set_defaults(func=cmd_report)

    streams = sub.add_parser("streams", help="create the streams, check their settings (as the NATS operator)")
    streams.add_argument("--apply", action="store_true", help="set back the settings that differ from Polku's (limits tuned on the server are kept)")
    streams.set_defaults(func=cmd_streams)

    contracts_cmd = sub.add_parser("contracts", help="write asyncapi.json and the JSON Schemas")
    contracts_cmd.add_argument("--out", required=True, help="directory to write into")
    contracts_cmd.set_defaults(func=cmd_contracts)

    bench = sub.add_parser("bench", help="run the benchmarks in bench/")
    bench.add_argument("--quick", action="store_true", help="smaller workloads, for a smoke run")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
