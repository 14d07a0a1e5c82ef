"""The dashboard without a browser: /dashboard and the command line's links, sessions, headers and the
CSRF check over HTTP (aiohttp's test client), the throttle on refused links, and the counts it reads."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from aiohttp import ClientSession, CookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from helpers import storage_section
from testbot import TestBot

from bot.campaigns.petitions import Signer
from bot.cli import main
from bot.core.app import Services
from bot.core.config import Config, ConfigError, WebConfig, from_mapping
from bot.port.events import Chat, ChatKind, Command, Event, User
from bot.sync.settings import Destination, SyncConfig
from bot.web.queries import Figures
from bot.web.server import COOKIE, HEADERS, MAX_FAILURES, Dashboard
from bot.web.signin import SignIn

Client = TestClient[web.Request, web.Application]
BOSS = "console:boss"
LINK = re.compile(r"http://127\.0\.0\.1:9878/signin/([\w-]+)")


def organiser_config(config: Config, **web: object) -> Config:
    return dataclasses.replace(config, organisers=(BOSS,), web=WebConfig(enabled=True, **web))  # type: ignore[arg-type]


@pytest.fixture
async def boss(config: Config, services: Services) -> AsyncIterator[TestBot]:
    async with TestBot.started(organiser_config(config), services, user_id="boss") as bot:
        yield bot


@pytest.fixture
async def client(boss: TestBot) -> AsyncIterator[Client]:
    dashboard = Dashboard(boss.core)
    async with TestClient(TestServer(dashboard.app), cookie_jar=CookieJar(unsafe=True)) as test_client:
        yield test_client


async def signed_in(bot: TestBot, client: Client) -> str:
    """Sign ``client`` in through /dashboard; the session's CSRF token."""
    token = LINK.search(await bot.ask("/dashboard"))
    assert token is not None
    response = await client.post(f"/signin/{token[1]}", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/"
    page = await (await client.get("/broadcasts")).text()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found[1]


async def test_dashboard_gives_an_organiser_a_link_that_works_once(boss: TestBot, client: Client) -> None:
    reply = await boss.ask("/dashboard")
    assert "It works once, within 10 minutes" in reply
    token = LINK.search(reply)
    assert token is not None
    # Looking at the link (a chat app's preview) does not use it.
    looked = await client.get(f"/signin/{token[1]}")
    assert looked.status == 200 and "Sign in" in await looked.text()
    first = await client.post(f"/signin/{token[1]}", allow_redirects=False)
    assert first.status == 303
    cookie = first.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]
    assert int(cookie["max-age"]) == 12 * 3600
    again = await client.post(f"/signin/{token[1]}", allow_redirects=False)
    assert again.status == 403 and "already been used" in await again.text()
    # Only its hash is stored.
    rows = await boss.core.store.rows("SELECT token_hash FROM dashboard_links")
    assert [row[0] for row in rows] != [token[1]] and len(rows) == 1


async def test_dashboard_is_for_private_chats_and_configured_organisers(config: Config, services: Services) -> None:
    async with TestBot.started(organiser_config(config), services, user_id="someone") as bot:
        assert "organisers" in (await bot.ask("/dashboard")).lower()
        group = Event(User("console", "boss"), Chat("group-1", ChatKind.GROUP), Command("dashboard", ""))
        (reply,) = (await bot.core.handle(group)).replies
        assert "/signin/" not in str(reply.text) and "private" in str(reply.text).lower()
    async with TestBot.started(dataclasses.replace(config, organisers=(BOSS,)), services, user_id="boss") as bot:
        assert "not enabled" in await bot.ask("/dashboard")


async def test_every_response_has_the_security_headers_and_posts_need_the_csrf_token(
    boss: TestBot, client: Client
) -> None:
    anonymous = await client.get("/")
    assert anonymous.status == 401 and "send /dashboard" in await anonymous.text()
    csrf = await signed_in(boss, client)
    for path in ("/", "/petitions/un-decriminalise", "/broadcasts", "/calendar", "/knowledge", "/static/live.js"):
        response = await client.get(path)
        assert response.status == 200, path
        for name, value in HEADERS.items():
            assert response.headers[name] == value
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert response.headers["Cache-Control"] == "no-store"
    missing = await client.post("/broadcasts/preview", data={"body": "hello", "topic": "news"})
    assert missing.status == 403 and "out of date" in await missing.text()
    forged = await client.post("/broadcasts/preview", data={"body": "hi", "topic": "news", "csrf": csrf[::-1]})
    assert forged.status == 403
    bad = await client.post(
        "/broadcasts/preview", data={"body": "", "topic": "weather", "language": "all", "platform": "all", "csrf": csrf}
    )
    assert bad.status == 400 and "Topic: choose one of the options" in await bad.text()
    unconfirmed = await client.post("/petitions/un-decriminalise/export", data={"format": "csv", "csrf": csrf})
    assert unconfirmed.status == 400 and "Tick the box" in await unconfirmed.text()
    assert await boss.core.store.rows("SELECT * FROM export_audit") == []
    signed_out = await client.post("/signout", data={"csrf": csrf})
    assert signed_out.status == 200 and "You are signed out" in await signed_out.text()
    assert (await client.get("/")).status == 401


async def test_a_session_cookie_is_secure_behind_https(config: Config, services: Services) -> None:
    settings = organiser_config(config, public_url="https://dash.example.org/board")
    async with TestBot.started(settings, services, user_id="boss") as bot:
        reply = await bot.ask("/dashboard")
        found = re.search(r"https://dash\.example\.org/board/signin/([\w-]+)", reply)
        assert found is not None
        async with TestClient(TestServer(Dashboard(bot.core).app)) as client:
            response = await client.post(f"/signin/{found[1]}", allow_redirects=False)
            assert response.headers["Location"] == "/board/"
            cookie = response.cookies[COOKIE]
            assert cookie["secure"] and cookie["path"] == "/board/"


async def test_refused_links_are_logged_without_the_link_and_throttled(
    boss: TestBot, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for n in range(MAX_FAILURES):
        response = await client.post(f"/signin/guess{n}", allow_redirects=False)
        assert response.status == 403
    token = LINK.search(await boss.ask("/dashboard"))
    assert token is not None
    throttled = await client.post(f"/signin/{token[1]}", allow_redirects=False)
    assert throttled.status == 429 and "Too many" in await throttled.text()
    # The bot's own records (the test server's access log is the test's, not the bot's: the bot runs
    # its server without one).
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bot.")]
    refused = [message for message in ours if "was refused" in message]
    assert len(refused) == MAX_FAILURES and all(m.endswith("(unknown)") for m in refused)
    assert not any("guess" in message or token[1] in message for message in ours)
    # The link itself was not used: another client signs in with it.
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as other:
        other_response = await other.post(f"{client.make_url('/signin/')}{token[1]}", allow_redirects=False)
        # Both clients are 127.0.0.1 here: the throttle is per address, so this one is turned away too.
        assert other_response.status == 429
    assert await SignIn(boss.core.store, boss.core.keyring, boss.core.config).check(token[1], boss.core.clock()) is None


async def test_a_link_expires_after_ten_minutes_and_an_organiser_removed_is_signed_out(
    boss: TestBot, client: Client
) -> None:
    core = boss.core
    signin = SignIn(core.store, core.keyring, core.config)
    old = await signin.link("console", "boss", "fr", datetime.now(UTC) - timedelta(minutes=10, seconds=1))
    response = await client.post(old.removeprefix("http://127.0.0.1:9878"), allow_redirects=False)
    assert response.status == 403 and "expired" in await response.text()
    fresh = await signin.link("console", "boss", "fr", datetime.now(UTC))
    opened = await signin.redeem(fresh.rsplit("/", 1)[1], datetime.now(UTC))
    assert not isinstance(opened, str)
    assert opened.session.language == "fr"
    assert await signin.session(opened.token, datetime.now(UTC)) is not None
    assert await signin.session(opened.token, datetime.now(UTC) + timedelta(hours=12)) is None
    removed = SignIn(core.store, core.keyring, dataclasses.replace(core.config, organisers=()))
    assert await removed.session(opened.token, datetime.now(UTC)) is None
    with pytest.raises(ValueError, match="not among the configured organisers"):
        await removed.link("console", "boss", "en", datetime.now(UTC))


async def test_pages_follow_the_organisers_language(boss: TestBot, client: Client) -> None:
    await boss.ask("/language ru")
    token = LINK.search(await boss.ask("/dashboard"))
    assert token is not None
    assert "Войти" in await (await client.get(f"/signin/{token[1]}")).text()
    await signed_in(boss, client)
    page = await (await client.get("/")).text()
    assert '<html lang="ru">' in page and "Обзор" in page and "Подписчики по языкам" in page


async def test_the_command_line_prints_a_link(
    tmp_path: Path, boss: TestBot, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"organisers": [BOSS], "storage": storage_section(boss.core.config)}))
    link = ["--config", str(config_file), "dashboard", "link", "--as"]
    assert await asyncio.to_thread(main, [*link, BOSS, "--lang", "es"]) == 0
    captured = capsys.readouterr()
    assert LINK.fullmatch(captured.out.strip()) and "web.enabled is off" in captured.err
    assert await asyncio.to_thread(main, [*link, "console:nobody"]) == 2
    assert "not among the organisers" in capsys.readouterr().err


async def test_answers_served_and_opt_outs_are_counted(boss: TestBot) -> None:
    core = boss.core
    await boss.ask("what is naloxone")
    await boss.ask("qwzx blorp frobnicate")
    await boss.ask("/subscribe news")
    await boss.ask("/unsubscribe news")
    figures = Figures(core.store, core.keyring)
    await core.served.flush(core.clock().date())
    served = await figures.served()
    assert served.get("fallback") == 1
    assert sum(count for name, count in served.items() if name.startswith("entry:")) == 1
    weeks = await figures.opt_outs_per_week(2, core.clock().date())
    assert sum(weeks.values()) == 1
    # Counts only: the counters hold names of answers and topics, never a question.
    rows = await core.store.rows("SELECT name FROM counters")
    assert not any("naloxone" in row[0] and not row[0].startswith("served:entry:") for row in rows)


async def test_countries_are_counted_again_after_an_erasure(boss: TestBot) -> None:
    core = boss.core
    figures = Figures(core.store, core.keyring)
    now = core.clock()

    async def sign(n: int, country: str | None) -> str:
        user = core.keyring.user_id("console", f"p{n}")
        await core.signatures.sign("un-decriminalise", user, "console", Signer(f"P{n}", None, country), 1, now)
        return user

    first = await sign(1, "PT")
    await sign(2, "PT")
    assert await figures.countries("un-decriminalise") == {"PT": 2}
    await sign(3, "BR")
    await sign(4, None)
    assert await figures.countries("un-decriminalise") == {"PT": 2, "BR": 1, None: 1}
    await core.personal.forget(first)
    assert await figures.countries("un-decriminalise") == {"PT": 1, "BR": 1, None: 1}


def test_the_web_options_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"web\.public_url"):
        from_mapping({"web": {"public_url": "dash.example.org"}})
    with pytest.raises(ConfigError, match=r"web\.port"):
        from_mapping({"web": {"port": 0}})
    assert from_mapping({"web": {"enabled": True, "public_url": "https://x.org"}}).web.public_url == "https://x.org"


async def test_a_preview_shows_the_message_as_recipients_get_it_escaped(boss: TestBot, client: Client) -> None:
    csrf = await signed_in(boss, client)
    body = "**Vigil** on Friday <script>alert(1)</script> [map](https://example.org/map)"
    draft = {"body": body, "topic": "news", "language": "es", "platform": "all", "csrf": csrf}
    page = await (await client.post("/broadcasts/preview", data=draft)).text()
    assert "<strong>Vigil</strong>" in page and '<a href="https://example.org/map"' in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # The recipients' language's footer; the organiser's language around it.
    assert "campaign news" not in page.split('id="message"')[1].split("</blockquote>")[0]
    assert "Send it" in page
    sent = await client.post("/broadcasts/send", data=draft, allow_redirects=False)
    assert sent.status == 303 and sent.headers["Location"].startswith("/broadcasts/")
    (row,) = await boss.core.store.rows("SELECT body, topic, language, platform FROM broadcasts")
    assert tuple(row) == (body, "news", "es", None)


async def test_the_overview_lists_the_erasures_left_to_organisers_in_their_crm(
    config: Config, services: Services
) -> None:
    an = Destination(kind="action-network", organisation="Example", secret_env="AN_KEY")
    syncing = dataclasses.replace(organiser_config(config), sync=SyncConfig(destinations={"an": an}))
    async with TestBot.started(syncing, services, user_id="boss") as bot:
        dashboard = Dashboard(bot.core)
        async with TestClient(TestServer(dashboard.app), cookie_jar=CookieJar(unsafe=True)) as client:
            await signed_in(bot, client)
            assert "Nothing is waiting for you." in await (await client.get("/")).text()
            # What /forget leaves when Action Network's API cannot delete a signature (tests/test_sync.py
            # makes one through the whole flow): a row with its step and no one in it.
            stamp = "2026-12-06T10:00:00+00:00"
            async with bot.core.store.transaction() as db:
                await db.execute(
                    "INSERT INTO sync_outbox (event_id, destination, event, subject, user_id, state, manual,"
                    " created_at, due_at, updated_at) VALUES ('e1', 'an', 'signature.erased', 'decriminalise-now',"
                    " NULL, 'sent', 'delete signature action_network:abc-123 and its person', ?, ?, ?)",
                    (stamp, stamp, stamp),
                )
            page = await (await client.get("/")).text()
            assert "Erasures left to you in your CRM" in page and "advocacy-bot sync done ID" in page
            assert "delete signature action_network:abc-123 and its person" in page and "#1" in page
            assert "2026-12-06" in page and "decriminalise-now" in page
            await bot.core.sync.manual_done(1)
            assert "Nothing is waiting for you." in await (await client.get("/")).text()


async def test_without_a_crm_the_overview_has_no_sync_panel(boss: TestBot, client: Client) -> None:
    await signed_in(boss, client)
    assert "Erasures left to you" not in await (await client.get("/")).text()
