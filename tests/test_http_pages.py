"""Contract rows and UI hooks of the pages: sign in, Recently Logged In, logout, patients, admin page."""

from __future__ import annotations

import re

import pytest

from simulator.policy import END_NOTICES, IDLE_TIMEOUT_PRESETS
from tests.conftest import PRACTITIONER, Server, web_sign_in

UI_HOOKS_SIGNED_IN = ["profile-menu", "app-menu", "logout-button", "logout-link", "idle-warning", "idle-countdown",
                      "stay-logged-in", "logout-now", "patient-list"]


def hooks_in(html: str) -> set[str]:
    return set(re.findall(r'data-testid="([^"]+)"', html))


def test_sign_in_page_has_the_form(server: Server) -> None:
    with server.client() as client:
        page = client.get("/signin")
    assert page.status_code == 200 and "signin-form" in hooks_in(page.text)
    assert page.headers["cache-control"] == "no-store"


def test_sign_in_sets_a_hardened_cookie_and_lands_on_patients(server: Server) -> None:
    with server.client() as client:
        response = client.post("/signin", data={"username": PRACTITIONER[0], "password": PRACTITIONER[1]})
    assert response.status_code == 303 and response.headers["location"] == "/patients"
    cookie = response.headers["set-cookie"].lower()
    assert "sid=" in cookie and "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie


def test_cookie_is_secure_over_https(server: Server) -> None:
    with server.client(base_url="https://testserver") as client:
        response = client.post("/signin", data={"username": PRACTITIONER[0], "password": PRACTITIONER[1]})
    assert "secure" in response.headers["set-cookie"].lower()


def test_wrong_password_stays_on_sign_in_with_a_message(server: Server) -> None:
    with server.client() as client:
        response = client.post("/signin", data={"username": PRACTITIONER[0], "password": "wrong"})
    assert response.status_code == 401 and "Incorrect email or password." in response.text
    assert "set-cookie" not in response.headers


def test_sign_in_from_another_site_is_refused(server: Server) -> None:
    with server.client() as client:
        response = client.post("/signin", data={"username": PRACTITIONER[0], "password": PRACTITIONER[1]},
                               headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and "set-cookie" not in response.headers


def test_sign_in_rotates_the_session_id(server: Server) -> None:
    with server.client() as client:
        web_sign_in(client, *PRACTITIONER)
        first = client.cookies["sid"]
        client.post("/signin", data={"username": PRACTITIONER[0], "password": PRACTITIONER[1]})
        assert client.cookies["sid"] != first
    with server.client() as old:
        old.cookies.set("sid", first)
        assert old.get("/api/session").status_code == 401


def test_patients_page_shows_protected_data_with_every_ui_hook(server: Server) -> None:
    with server.client() as client:
        web_sign_in(client, *PRACTITIONER)
        page = client.get("/patients")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert set(UI_HOOKS_SIGNED_IN) <= hooks_in(page.text)
    assert 'aria-label="Profile"' in page.text and 'aria-label="Menu"' in page.text
    assert "Are you still there?" in page.text and "Stay Logged In" in page.text and "Log out now" in page.text
    assert page.text.count("<tr>") > 5


def test_patients_without_a_session_redirects_to_sign_in(server: Server) -> None:
    with server.client() as client:
        response = client.get("/patients")
    assert response.status_code == 303 and response.headers["location"] == "/signin"


def logout(client, csrf: str):
    return client.post("/logout", data={"csrf_token": csrf})


def test_logout_ends_the_session_clears_cookie_and_site_data(server: Server) -> None:
    with server.client() as client:
        csrf = web_sign_in(client, *PRACTITIONER)
        old_cookie = client.cookies["sid"]
        response = logout(client, csrf)
        assert response.status_code == 303
        assert response.headers["clear-site-data"] == '"cache", "storage"'
        assert 'sid=""' in response.headers["set-cookie"] or "max-age=0" in response.headers["set-cookie"].lower()
        assert response.headers["location"] == "/signin"
        landing = client.get("/signin")
        assert END_NOTICES["logout"] in landing.text
        assert END_NOTICES["logout"] not in client.get("/signin").text, "the notice shows once"
    with server.client() as back:
        back.cookies.set("sid", old_cookie)
        assert back.get("/patients").status_code == 303, "Back after logout shows no patient data"
        assert back.get("/api/session").json()["reason"] == "logout"


def test_logout_without_the_csrf_token_is_refused(server: Server) -> None:
    with server.client() as client:
        web_sign_in(client, *PRACTITIONER)
        assert client.post("/logout", data={}).status_code == 403
        assert client.get("/api/session").status_code == 200


def test_logout_lands_on_recently_logged_in_when_the_device_remembers(server: Server) -> None:
    with server.client() as client:
        csrf = web_sign_in(client, *PRACTITIONER, remember=True)
        response = logout(client, csrf)
        assert response.headers["location"] == "/recent"
        recent = client.get("/recent")
        assert recent.status_code == 200
        assert {"recent-accounts", "recent-account", "signin-notice"} <= hooks_in(recent.text)
        assert "Pat Practitioner" in recent.text and PRACTITIONER[1] not in recent.text
        chosen = client.get(f"/signin?username={PRACTITIONER[0]}")
        assert f'value="{PRACTITIONER[0]}"' in chosen.text and 'type="password"' in chosen.text
        forget = client.post("/recent/forget", data={"username": PRACTITIONER[0]})
        assert forget.status_code == 303
        assert client.get("/recent").headers["location"] == "/signin"


def test_a_tampered_remembered_list_is_ignored(server: Server) -> None:
    with server.client() as client:
        client.cookies.set("recent", "forged-value")
        assert client.get("/recent").status_code == 303


@pytest.mark.parametrize("reason", ["idle", "evicted", "absolute", "revoked", "logout"])
def test_sign_in_page_explains_each_end_reason(server: Server, reason: str) -> None:
    with server.client() as client:
        page = client.get(f"/signin?reason={reason}")
    assert END_NOTICES[reason] in page.text and "signin-notice" in hooks_in(page.text)


def test_sign_in_page_reads_the_reason_from_the_dead_session(server: Server) -> None:
    with server.client() as laptop, server.client() as phone:
        web_sign_in(laptop, *PRACTITIONER)
        web_sign_in(phone, *PRACTITIONER)
        assert laptop.get("/patients").headers["location"] == "/signin?reason=evicted"
        assert END_NOTICES["evicted"] in laptop.get("/signin").text


def test_unknown_reasons_show_no_notice(server: Server) -> None:
    with server.client() as client:
        page = client.get("/signin?reason=<script>")
    assert "signin-notice" not in hooks_in(page.text) and "<script>" not in page.text


def test_admin_page_offers_the_presets_up_to_seven_days_and_no_never(server: Server, admin_web) -> None:
    client, _ = admin_web
    page = client.get("/admin/settings")
    assert {"idle-timeout", "save-settings"} <= hooks_in(page.text)
    assert "Automatic logout after" in page.text
    select = page.text.split('data-testid="idle-timeout"')[1].split("</select>")[0]
    options = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', select)
    assert [(int(v), label) for v, label in options] == list(IDLE_TIMEOUT_PRESETS)
    assert "never" not in select.lower()


def test_admin_page_saves_and_refuses_with_a_message(server: Server, admin_web) -> None:
    client, csrf = admin_web
    saved = client.post("/admin/settings", data={"csrf_token": csrf, "idle_timeout_minutes": "15",
                                                 "warning_seconds": "60", "max_sessions_per_user": "2",
                                                 "absolute_lifetime_hours": "12"})
    assert saved.status_code == 303
    assert server.deps.store.get_account(1).settings.idle_timeout_minutes == 15
    refused = client.post("/admin/settings", data={"csrf_token": csrf, "idle_timeout_minutes": "never"})
    assert refused.status_code == 422 and "7 days" in refused.text
    assert client.post("/admin/settings", data={"idle_timeout_minutes": "60"}).status_code == 403
    assert server.deps.store.get_account(1).settings.idle_timeout_minutes == 15


def test_non_admins_cannot_open_or_post_the_settings(server: Server) -> None:
    with server.client() as client:
        csrf = web_sign_in(client, *PRACTITIONER)
        assert client.get("/admin/settings").status_code == 403
        assert client.post("/admin/settings", data={"csrf_token": csrf, "idle_timeout_minutes": "15"}).status_code == 403
    assert server.deps.store.get_account(1).settings.idle_timeout_minutes == 30


def test_admin_revokes_a_session_from_the_page(server: Server, admin_web) -> None:
    client, csrf = admin_web
    with server.client() as victim:
        web_sign_in(victim, *PRACTITIONER)
        key = [s.key for s in server.deps.store.active_sessions(1) if s.username == PRACTITIONER[0]][0]
        assert client.post(f"/admin/sessions/{key}/revoke", data={"csrf_token": csrf}).status_code == 303
        assert victim.get("/patients").headers["location"] == "/signin?reason=revoked"
        assert END_NOTICES["revoked"] in victim.get("/signin").text


def test_two_factor_enrolment_on_the_web(server: Server, admin_web) -> None:
    from simulator.accounts import totp_now

    client, csrf = admin_web
    client.put("/api/admin/settings", json={"require_2fa": True}, headers={"X-CSRF-Token": csrf})
    with server.client() as browser:
        page = browser.post("/signin", data={"username": PRACTITIONER[0], "password": PRACTITIONER[1]})
        assert page.status_code == 200 and "totp-secret" in hooks_in(page.text)
        secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page.text).group(1)
        pending = re.search(r'name="pending" value="([^"]+)"', page.text).group(1)
        bad = browser.post("/signin/enrol", data={"pending": pending, "otp": "000000"})
        assert bad.status_code == 401
        done = browser.post("/signin/enrol", data={"pending": pending,
                                                   "otp": totp_now(secret, at_ms=server.clock.now_ms())})
        assert done.status_code == 303 and done.headers["location"] == "/patients"
        again = browser.post("/signin", data={"username": PRACTITIONER[0], "password": PRACTITIONER[1]})
        assert again.status_code == 401 and 'name="otp"' in again.text


def test_opening_a_page_is_activity_but_the_sign_in_redirect_is_not(server: Server) -> None:
    with server.client() as client:
        web_sign_in(client, *PRACTITIONER)
        server.advance(minutes=20)
        assert client.get("/signin").headers["location"] == "/patients"
        assert client.get("/api/session").json()["last_activity_ms"] == server.clock.now_ms() - 20 * 60_000
        client.get("/patients")
        assert client.get("/api/session").json()["last_activity_ms"] == server.clock.now_ms()


def test_sign_in_also_accepts_a_json_body(server: Server) -> None:
    with server.client() as client:
        response = client.post("/signin", json={"username": PRACTITIONER[0], "password": PRACTITIONER[1]})
        assert response.status_code == 303 and client.get("/api/session").status_code == 200


@pytest.mark.parametrize("mode, extends", [("navigate", True), (None, True), ("cors", False), ("same-origin", False),
                                           ("no-cors", False)])
def test_only_opening_a_page_counts_as_activity_not_a_background_fetch_of_it(server: Server, mode: str | None,
                                                                              extends: bool) -> None:
    """A script fetching a page (Sec-Fetch-Mode other than navigate) must not keep an unattended device signed in."""
    with server.client() as client:
        web_sign_in(client, *PRACTITIONER)
        signed_in_at = client.get("/api/session").json()["last_activity_ms"]
        server.advance(minutes=10)
        page = client.get("/patients", headers={"Sec-Fetch-Mode": mode} if mode else {})
        assert page.status_code == 200
        last = client.get("/api/session").json()["last_activity_ms"]
    assert (last > signed_in_at) is extends, (mode, last - signed_in_at)
