"""The baseline a user would pick instead of Polku: a bare ``eventsourcing`` Application.

The same decisions on the same aggregate (intake's ``Referral``: receive, screen, triage,
route, as ``services/intake/application.py`` makes them), the same cipher (Polku's
``KeyRingCipher``, AES-GCM with a key id) and the same store settings (``polku.store.store_env``:
SQLite in WAL with ``synchronous=FULL``, the aggregate cache at its default), called in process,
one command after another, each command one ``save`` (one transaction, one fsync): no bus, no
pipeline, no group commit, no command record, no read model, no relay.

What it leaves out, Polku's path pays for: the request and reply over NATS, decoding and
checking the command (actor, roles, time bounds), the command record stored with each command
(idempotency), the read models, and the relays and consumers that carry the referral to
casefile and reporting. The figure is four-command paths per second, against
``e2e_referrals``' referrals per second (also four commands each, and projected).
"""

from __future__ import annotations

import random
from contextlib import ExitStack
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder

from bench.common import ChunkedBaseline, Figure, fresh_var, say
from demo.main import DISTRIBUTION, GUIDANCE
from demo.population import distinct_demo_referrals
from polku.domain import Envelope, EnvelopeAsDict
from polku.settings import Settings
from polku.store import DateAsISO, keyed_id, store_env
from services.intake import identity
from services.intake.domain import ROSTER_ID, ClientIdentity, Referral, Roster
from services.intake.settings import parse_triage_grid

#: Paths not timed, before the first chunk: imports, the cache, the first pages of the file.
WARMUP = 20


class BareIntake(Application[Any]):
    """Intake's four referral commands as a user of the library alone would write them: read
    the aggregate, call its method, ``save`` it. Loads for routing are counted in memory."""

    def __init__(self, env: dict[str, str], *, pseudonym_key: str, roster: list[dict[str, Any]]) -> None:
        super().__init__(env)
        self.pseudonym_key = pseudonym_key
        self.grid = parse_triage_grid(None)
        self.load: dict[str, int] = {}
        self.by_client: dict[str, UUID] = {}
        self.save(Roster.seed(Envelope.now(), roster))

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(EnvelopeAsDict())

    def receive(self, command_id: str, body: dict[str, Any]) -> UUID:
        code = identity.validate(body["identity_code"])
        client_id = identity.pseudonymise(code, self.pseudonym_key)
        env = Envelope.now(actor=GUIDANCE, causation_id=command_id, client_id=client_id)
        referral_id = keyed_id(self.pseudonym_key, "intake/referral", command_id)
        earlier = [self.by_client[client_id]] if client_id in self.by_client else []
        source = body["source"]
        referral = Referral.receive(
            referral_id, env, channel=body["channel"], source_kind=source["kind"], authority=source.get("authority"),
            further_source_kind=source.get("further_kind"), concerns=sorted(set(body["concerns"])),
            urgent=body.get("urgent", False), consent=body.get("consent", False), summary=body.get("summary", ""),
            contact_details=body.get("contact_details", ""), team=GUIDANCE["team"], repeat_of=earlier,
            open_relationship_id=None,
        )
        if earlier:
            self.save(referral)
        else:
            self.save(referral, ClientIdentity.record(env, identity.seal(code, self.pseudonym_key)))
        self.by_client[client_id] = referral_id
        return referral_id

    def screen(self, command_id: str, referral_id: UUID) -> None:
        referral: Referral = self.repository.get(referral_id)
        env = Envelope.now(actor=GUIDANCE, causation_id=command_id, client_id=referral.client_id)
        referral.screen(env, outcome="assessment_needed", redirected_to=None, motivation="motivated")
        self.save(referral)

    def triage(self, command_id: str, referral_id: UUID) -> None:
        referral: Referral = self.repository.get(referral_id)
        env = Envelope.now(actor=DISTRIBUTION, causation_id=command_id, client_id=referral.client_id)
        quadrant = self.grid.place({"seeks_help": "able", "needs": "single"})
        assert quadrant is not None
        referral.triage(
            env, quadrant=quadrant.code, special_support_suspected=quadrant.special_support_suspected,
            required_role=quadrant.role,
        )
        self.save(referral)

    def route(self, command_id: str, referral_id: UUID) -> None:
        referral: Referral = self.repository.get(referral_id)
        referral.check_routable()
        roster: Roster = self.repository.get(ROSTER_ID)
        env = Envelope.now(actor=DISTRIBUTION, causation_id=command_id, client_id=referral.client_id)
        worker = roster.pick(team=referral.team, role=referral.role_needed, day=env.occurred_at.date(), load=self.load)
        referral.route(env, worker_id=worker["worker_id"], team=worker["team"], override_reason=None)
        self.save(referral)
        self.load[worker["worker_id"]] = self.load.get(worker["worker_id"], 0) + 1

    def path(self, command_id: str, body: dict[str, Any]) -> None:
        referral_id = self.receive(command_id, body)
        self.screen(f"{command_id}-s", referral_id)
        self.triage(f"{command_id}-t", referral_id)
        self.route(f"{command_id}-r", referral_id)


class EsBaseline(ChunkedBaseline):
    """Paths in chunks, so that the baseline can be spread around the stack benchmarks and see
    the same load on the machine (the disk is shared); the figure is total paths / total time."""

    def __init__(self, total: int) -> None:
        super().__init__(total)
        self._stack = ExitStack()
        self._app: BareIntake | None = None
        self._rng = random.Random(17)
        self._seen: set[str] = set()
        self._settings: Settings | None = None

    def __enter__(self) -> EsBaseline:
        settings = self._settings = self._stack.enter_context(fresh_var("es_baseline"))
        roster = [{"worker_id": w.worker_id, "role": w.role, "team": w.team, "capacity": w.capacity} for w in settings.roster]
        self._app = BareIntake(store_env(settings, "es_baseline"), pseudonym_key=settings.pseudonym_key, roster=roster)
        self._stack.callback(self._app.close)
        for i, body in enumerate(distinct_demo_referrals(self._rng, WARMUP, self._seen)):
            self._app.path(f"es-warm-{i}", body)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def run(self, count: int) -> None:
        app = self._app
        assert app is not None
        bodies = distinct_demo_referrals(self._rng, count, self._seen)
        first = self.done
        seconds = self.timed(count, "es baseline paths", lambda i: app.path(f"es-{first + i}", bodies[i]), every=20)
        say(f"  {count} paths ({4 * count} saves) in {seconds:.2f}s")

    def figure(self) -> Figure:
        assert self._app is not None and self._settings is not None
        routed = sum(self._app.load.values())
        if routed != self.done + WARMUP:
            raise RuntimeError(f"{routed} referrals routed, expected {self.done + WARMUP}")
        stored = self._app.recorder.max_notification_id() or 0
        stored_bytes = ""
        if self._settings.store == "sqlite":
            import sqlite3

            conn = sqlite3.connect(self._settings.sqlite_path("es_baseline"), isolation_level=None)
            try:
                rows, state = conn.execute("SELECT COUNT(*), SUM(LENGTH(state)) FROM stored_events").fetchone()
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                (pages,) = conn.execute("PRAGMA page_count").fetchone()
                (page_size,) = conn.execute("PRAGMA page_size").fetchone()
            finally:
                conn.close()
            stored_bytes = (
                f"; {state / rows:,.0f} B of encrypted state per event, "
                f"{pages * page_size / rows:,.0f} B per event in the file with its index"
            )
        return Figure(
            "es_baseline_paths",
            self.done / self.seconds,
            "paths/s",
            [
                f"# es_baseline_paths: a bare eventsourcing Application (bench/baseline.py) deciding intake's "
                f"Referral as intake does (receive with its identity record, screen, triage, route from the roster), "
                f"the same cipher (KeyRingCipher) and store settings (polku.store.store_env: {self._settings.store}"
                f"{', WAL, synchronous=FULL' if self._settings.store == 'sqlite' else ''}, aggregate cache "
                f"{self._settings.aggregate_cache}); sequential, in process, one save (one transaction) per command; "
                f"{self.done} paths ({4 * self.done} commands) after {WARMUP} not timed",
                f"#   in {len(self.chunks)} chunks spread around the stack benchmarks (the disk is shared), each after "
                f"os.sync() and 0.5 s of rest: {', '.join(f'{c:,.0f}' for c in self.chunks)} paths/s; "
                f"{stored:,} events stored{stored_bytes}",
            ],
        )
