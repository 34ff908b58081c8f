"""One body-size limit for every route, a header limit, and bounded password hashing."""

from __future__ import annotations

import threading
import time

import pytest

from simulator.signin_guard import HashingBusy, SignInGuard
from tests.conftest import ADMIN, PRACTITIONER, Server, mobile_sign_in, web_sign_in

BIG = b"x" * (64 * 1024 + 1)


@pytest.mark.parametrize("method, path", [("POST", "/signin"), ("POST", "/api/mobile/sessions"),
                                          ("POST", "/logout"), ("POST", "/signin/enrol"),
                                          ("PUT", "/api/admin/settings"), ("POST", "/api/session/heartbeat"),
                                          ("POST", "/nowhere"), ("POST", "/__test__/clock")])
def test_every_route_refuses_a_body_over_the_limit(server: Server, method: str, path: str) -> None:
    with server.client() as client:
        answer = client.request(method, path, content=BIG, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and "request body too large" in answer.json()["error"]


def test_a_chunked_body_over_the_limit_is_refused_while_it_is_read(server: Server) -> None:
    def chunks():
        for _ in range(100):
            yield b"username=" + b"x" * 8192

    with server.client() as client:
        answer = client.post("/signin", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 413


@pytest.mark.parametrize("method, path", [("POST", "/api/mobile/sessions"), ("POST", "/api/session/heartbeat"),
                                          ("PUT", "/api/admin/settings"), ("POST", "/__test__/clock"),
                                          ("POST", "/signin")])
def test_a_chunked_json_body_over_the_limit_is_a_413_not_a_422(server: Server, method: str, path: str) -> None:
    def chunks():
        yield b'{"username": "'
        for _ in range(100):
            yield b"x" * 8192
        yield b'"}'

    with server.client() as client:
        token = mobile_sign_in(client, *ADMIN)
        answer = client.request(method, path, content=chunks(),
                                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    assert answer.status_code == 413, answer.text
    assert "request body too large" in answer.json()["error"]


def test_bodies_under_the_limit_still_work(server: Server) -> None:
    with server.client() as client:
        web_sign_in(client, *PRACTITIONER)
        mobile_sign_in(client, *PRACTITIONER)


def test_headers_over_the_limit_are_refused_with_431(server: Server) -> None:
    with server.client() as client:
        answer = client.get("/signin", headers={"Cookie": "sid=" + "a" * 20_000})
        assert answer.status_code == 431
        assert client.get("/api/session", headers={"X-Filler": "b" * 20_000}).status_code == 431
        assert client.get("/signin", headers={"Cookie": "sid=" + "a" * 2_000}).status_code == 200
        assert client.get("/signin?q=" + "c" * 20_000).status_code == 431, "the request line counts too"


def test_password_checks_run_one_at_a_time_and_a_long_queue_is_refused() -> None:
    guard = SignInGuard(hash_workers=1, hash_wait_s=0.05)
    inside, released = threading.Event(), threading.Event()

    def hold() -> None:
        with guard.hashing():
            inside.set()
            released.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(5)
    started = time.perf_counter()
    with pytest.raises(HashingBusy):
        with guard.hashing():
            pass
    assert time.perf_counter() - started < 1
    released.set()
    holder.join()
    with guard.hashing():
        pass


def test_a_busy_password_check_answers_503_with_retry_after(server: Server) -> None:
    server.deps.guard.hash_wait_s = 0.01
    with server.deps.guard.hashing(), server.deps.guard.hashing(trusted=True):  # every slot of both lanes taken
        with server.client() as client:
            answer = client.post("/api/mobile/sessions", json={"username": PRACTITIONER[0],
                                                               "password": PRACTITIONER[1]})
            page = client.post("/signin", data={"username": PRACTITIONER[0], "password": PRACTITIONER[1]})
    assert answer.status_code == 503 and answer.json()["code"] == "busy" and answer.headers["retry-after"] == "1"
    assert page.status_code == 503 and "Sign-in is busy" in page.text
