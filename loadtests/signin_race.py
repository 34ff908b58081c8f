"""A person who signs in on K devices at the same moment: simultaneous sign-ins must not outrun the limit.

Every few virtual minutes (``--race-minutes``) the one ``SigninRace`` user takes a person reserved
for races (``StaffPool.racers``: never one of the timed staff), opens K connections (``--race-signins``,
one ``FastHttpSession`` each, warmed with one request), holds K greenlets behind a gevent ``Event``,
and releases them together: K ``POST /api/mobile/sessions`` leave within microseconds. Then it reads
each returned token's status (``GET /api/session``, bearer) and counts the active ones; more than
the clinic's ``max_sessions_per_user`` is a ``signin_race`` violation (``loadtests.race_judge``), and
the status read that showed one too many fails in Locust's report. Like a session, a race person
counts once per kind in ``violations`` (``race_rounds_failed`` counts the rounds). Finally it logs
every token out (``DELETE /api/mobile/sessions/current``) so the next round starts clean.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import gevent
import gevent.event
from locust import FastHttpUser, task
from locust.contrib.fasthttp import FastHttpSession

from loadtests.harness import harness
from loadtests.race_judge import KIND, RaceRound, judge
from loadtests.staff import NoCookies
from loadtests.staff_pool import Staff

log = logging.getLogger("loadtests")
SIGNIN = "/api/mobile/sessions [race]"


class SigninRace(FastHttpUser):
    """Fires K simultaneous sign-ins of one reserved person now and then, and counts who stays."""

    fixed_count = 1
    network_timeout = 20.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.h = harness()
        self.rng = random.Random()
        self.client.cookiejar.set_policy(NoCookies())
        self.pool = self.h.wait_for_pool()
        self.rounds = 0
        self.flagged: set[str] = set()  # race people already counted as a violation

    def wait_time(self) -> float:
        minutes = float(self.h.options.race_minutes)
        if minutes <= 0:
            return 3600.0
        return self.rng.uniform(0.5, 1.5) * minutes * 60 / self.h.scale

    def _connection(self) -> FastHttpSession:
        """A client of its own (one connection) for one of the K devices."""
        session = FastHttpSession(base_url=self.host, request_event=self.environment.events.request, user=self,
                                  network_timeout=self.network_timeout, connection_timeout=self.connection_timeout,
                                  max_retries=0, max_redirects=0, insecure=True, concurrency=1)
        session.cookiejar.set_policy(NoCookies())
        return session

    def _server_error(self, status: int, what: str) -> None:
        if status == 0 or status >= 500:
            self.h.stats.add(self.h.verifier.check_error(None, status, f"{what} ({self.__class__.__name__})"))

    @task
    def race(self) -> None:
        """One round: open K connections, sign in on all at once, count the active sessions, log out."""
        k = int(self.h.options.race_signins)
        if self.pool is None or not self.pool.racers or float(self.h.options.race_minutes) <= 0 or k < 2:
            return
        racer = self.pool.racers[self.rounds % len(self.pool.racers)]
        self.rounds += 1
        self.client.client.clientpool.close()  # idle since the last round: not a stale keep-alive connection
        race = RaceRound(racer.credential.username, racer.person.clinic.max_sessions, k, label=f"race {self.rounds}")
        connections = [self._connection() for _ in range(k)]
        try:
            for connection in connections:  # open every connection first, so the sign-ins leave together
                with connection.get("/api/session", name="/api/session [race warm-up]",
                                    catch_response=True) as response:
                    if response.status_code == 401:
                        response.success()
            go = gevent.event.Event()
            runners = [gevent.spawn(self._sign_in, connection, racer, n, k, go)
                       for n, connection in enumerate(connections)]
            gevent.sleep(0)  # every greenlet is now waiting on the event
            go.set()
            gevent.joinall(runners, timeout=self.network_timeout + 5)
            tokens = [t for t in (r.value for r in runners) if isinstance(t, str)]
            for runner in runners:
                if runner.value is None:
                    race.unknown += 1
                elif runner.value == "":
                    race.refused += 1
            race.signed_in = len(tokens)
            self._count(race, tokens)
            verdict = judge(race)
            if verdict.findings:
                self.h.stats.count("race_rounds_failed")
                if race.username not in self.flagged:
                    self.flagged.add(race.username)
                    self.h.stats.add(verdict.findings)
            if verdict.judged:
                self.h.stats.count("race_rounds")
            self.h.stats.count("race_signins", race.signed_in)
            for finding in verdict.findings:
                log.error("%s: %s", finding.kind, finding.detail)
            self._log_out(tokens)
        finally:
            for connection in connections:
                connection.client.clientpool.close()

    def _sign_in(self, connection: FastHttpSession, racer: Staff, n: int, k: int,
                 go: gevent.event.Event) -> str | None:
        """Wait for the start, sign in; the token, "" when refused without a session, None when unknown."""
        cred = racer.credential
        go.wait()
        with connection.post("/api/mobile/sessions", name=SIGNIN, catch_response=True,
                             json={"username": cred.username, "password": cred.password,
                                   "device": f"race device {n + 1} of {k} ({cred.username})"}) as response:
            status = response.status_code or 0
            try:
                body: Any = response.json()
            except Exception:  # noqa: BLE001  (no body, or not JSON: judged by its status)
                body = None
            if status == 201 and isinstance(body, dict) and isinstance(body.get("token"), str):
                response.success()
                return body["token"]
            code = body.get("code") if isinstance(body, dict) else None
            if status == 429 or (status == 503 and code == "busy"):  # a refusal the contract allows: no session
                response.failure(f"race sign-in refused: HTTP {status} {code}")
                return ""
            response.failure(f"race sign-in failed: HTTP {status}")
            self._server_error(status, "race sign-in")
            return None if status == 0 or status >= 500 else ""

    def _count(self, race: RaceRound, tokens: list[str]) -> None:
        """Read each token's status; the read that shows one session too many fails in Locust's report."""
        for token in tokens:
            with self.client.get("/api/session", name="/api/session [race]", catch_response=True,
                                 headers={"Authorization": f"Bearer {token}"}) as response:
                status = response.status_code or 0
                try:
                    body: Any = response.json()
                except Exception:  # noqa: BLE001
                    body = None
                state = body.get("state") if isinstance(body, dict) else None
                if status == 200 and state == "active":
                    race.record("active")
                elif status == 401 and isinstance(body, dict):
                    race.record("ended", body.get("reason") or body.get("code"))
                else:
                    race.record("unknown")
                    response.failure(f"race status unreadable: HTTP {status}")
                    self._server_error(status, "race status")
                    continue
                if state == "active" and race.active > race.limit:
                    response.failure(f"{KIND}: session {race.active} of {race.fired} simultaneous sign-ins still "
                                     f"active; the clinic allows {race.limit}")
                else:
                    response.success()

    def _log_out(self, tokens: list[str]) -> None:
        """Log every token of the round out (an evicted one answers 401: fine)."""
        for token in tokens:
            with self.client.delete("/api/mobile/sessions/current", name="/api/mobile/sessions/current [race]",
                                    catch_response=True, headers={"Authorization": f"Bearer {token}"}) as response:
                if response.status_code in (200, 401):
                    response.success()
                else:
                    response.failure(f"race logout failed: HTTP {response.status_code}")
                    self._server_error(response.status_code or 0, "race logout")
