"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against a running bot
(serve, the Telegram adapter on the fake Bot API) with the dashboard enabled.

One browser for the whole session (each test a fresh context: no cookie carries over). Every request
the browser makes is intercepted: none may leave 127.0.0.1. A screenshot of each page is saved under
the test's temporary folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from fakes.telegram import FakeTelegram, make_user, private_chat
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright
from test_operations import free_port

from adapters.telegram.adapter import TelegramAdapter
from bot.campaigns.petitions import Signer
from bot.cli import main
from bot.core.app import Core, Services
from bot.core.config import Config, load_config
from bot.operations.serving import serve
from bot.web.signin import SignIn

pytestmark = pytest.mark.asyncio(loop_scope="session")

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking switches Chromium reaches for update and sync servers at start.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ORGANISER = 7_100_000_900
PETITION = "un-decriminalise"
SIGNERS = [
    # Portugal often, Brazil three times (shown "<5"), one without a country.
    *[(f"Signer Number{n}", f"signer{n}@example.org", "PT") for n in range(7)],
    *[(f"Brasileira Number{n}", f"brasil{n}@example.org", "BR") for n in range(3)],
    ("Nobody Anywhere", "nobody@example.org", None),
]
SUBSCRIBERS = [make_user(7_100_000_001 + n, f"Reader {n}", language_code="en") for n in range(6)]
BROADCAST = "Vigil at the Quokka Hall on Friday: bring candles."


def chromium() -> str:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is not installed: apt-get install -y chromium (.ci/run does)")
    return str(CHROMIUM)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium(), headless=True, args=ARGS)
        yield launched
        await launched.close()


@dataclass
class Site:
    """A running bot with its dashboard, and what the browser asked for."""

    config: Config
    config_file: Path
    tg: FakeTelegram
    base: str
    shots: Path
    requested: list[str] = field(default_factory=list)

    async def context(self, browser: Browser) -> BrowserContext:
        context = await browser.new_context(accept_downloads=True)

        async def only_local(route: Route) -> None:
            url = route.request.url
            self.requested.append(url)
            if url.startswith(("http://127.0.0.1:", "data:")):
                await route.continue_()
            else:
                await route.abort()

        await context.route("**/*", only_local)
        return context

    async def link(self, *, age: timedelta = timedelta(0)) -> str:
        """A sign-in link made ``age`` ago (the dashboard's own store, another connection)."""
        core = await Core.open(self.config, create_key=False)
        try:
            signin = SignIn(core.store, core.keyring, self.config)
            return await signin.link("telegram", str(ORGANISER), "en", datetime.now(UTC) - age)
        finally:
            await core.close()

    @asynccontextmanager
    async def visit(self, browser: Browser, *, signed_in: bool = True) -> AsyncIterator[Page]:
        """A page in a context of its own (signed in through a fresh link); afterwards, every request
        it made is checked to have stayed on 127.0.0.1."""
        context = await self.context(browser)
        try:
            page = await context.new_page()
            if signed_in:
                await page.goto(await self.link())
                await page.get_by_role("button", name="Sign in").click()
                await page.wait_for_url(self.base + "/")
            yield page
        finally:
            await context.close()
        self.assert_local()

    async def shot(self, page: Page, name: str) -> None:
        await page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def assert_local(self) -> None:
        assert self.requested, "the browser asked for nothing"
        strays = [url for url in self.requested if not url.startswith((f"{self.base}/", "data:"))]
        assert strays == [], strays


async def populate(config: Config, services: Services) -> None:
    core = await Core.open(config, services=services, create_key=False)
    now = datetime.now(UTC)
    try:
        for n, (name, email, country) in enumerate(SIGNERS):
            user = core.keyring.user_id("telegram", str(9_000 + n))
            signed = await core.signatures.sign(PETITION, user, "telegram", Signer(name, email, country), 1, now)
            assert signed.recorded
        for person in SUBSCRIBERS:
            user = core.keyring.user_id("telegram", str(person["id"]))
            await core.subscriptions.subscribe(user, "telegram", "news", str(person["id"]), "en", now)
        await core.pledges.take_pledge(core.keyring.user_id("telegram", "9000"), "telegram", "carry-naloxone", now)
    finally:
        await core.close()


@asynccontextmanager
async def running(tmp_path: Path, services: Services) -> AsyncIterator[Site]:
    async with FakeTelegram() as tg:
        port = free_port()
        config_file = tmp_path / "config.yaml"
        config_file.write_text(
            textwrap.dedent(
                f"""\
                organisers: ["telegram:{ORGANISER}"]
                storage: {{path: {tmp_path / "bot.sqlite3"}}}
                console: {{enabled: false}}
                telegram: {{enabled: true, base_url: "{tg.base_url}"}}
                web: {{enabled: true, port: {port}}}
                """
            )
        )
        config = load_config(config_file)
        await populate(config, services)
        for person in SUBSCRIBERS:
            tg.add_chat(private_chat(person))
        adapter = TelegramAdapter(config.section("telegram"), config.limits("telegram"), token=tg.token)
        server = asyncio.create_task(serve(config, [adapter], create_key=False))
        shots = tmp_path / "screenshots"
        shots.mkdir()
        site = Site(config, config_file, tg, f"http://127.0.0.1:{port}", shots)
        try:
            await until_listening("127.0.0.1", port)
            yield site
        finally:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(server, 20)


async def until_listening(host: str, port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError(f"nothing listens on {host}:{port}")


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", "11" * 32)


async def test_sign_in_and_every_page_renders_its_charts(browser: Browser, tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as site, site.visit(browser) as page:
        cookie = next(c for c in await page.context.cookies() if c["name"] == "dashboard_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]

        assert await page.locator("h1").inner_text() == "Overview"
        # Pledges, petitions, sign-ups per day and running total, subscribers by topic, language and
        # platform, opt-outs per week: each a chart with its table.
        assert await page.locator("figure svg.chart").count() == 8
        assert await page.locator("figure table").count() == 8
        assert "1 of" in await page.locator("#pledges").inner_text()
        assert "11" in await page.locator("#petitions table").inner_text()
        await site.shot(page, "overview")

        await page.get_by_role("link", name="Decriminalise", exact=False).first.click()
        await page.wait_for_url(f"{site.base}/petitions/{PETITION}")
        countries = await page.locator("#by-country table").inner_text()
        assert "Portugal\t7" in countries and "Brazil\t<5" in countries and "Not given\t<5" in countries
        assert await page.locator("#by-country svg rect.suppressed").count() == 2
        assert await page.locator("#by-country svg text.value").all_text_contents() == ["7", "<5", "<5"]
        assert "1\t11" in await page.locator("#by-consent table").inner_text()
        assert await page.locator("figure svg.chart").count() == 4
        await site.shot(page, "petition")

        for name, heading, charts in (("Broadcasts", "Broadcasts", 0), ("Calendar", "Calendar", 1)):
            await page.get_by_role("link", name=name, exact=True).click()
            assert await page.locator("h1").inner_text() == heading
            assert await page.locator("figure svg.chart").count() == charts
            await site.shot(page, name.lower())
        # A question answered meanwhile is counted (the question itself is not kept).
        site.tg.push_message("what is naloxone", user=SUBSCRIBERS[0])
        await site.tg.wait_for("sendMessage", lambda call: "aloxone" in str(call.params.get("text")))
        await page.get_by_role("link", name="Knowledge base").click()
        assert await page.locator("figure svg.chart").count() == 2
        assert await page.locator("#most-served table tbody").inner_text() == "Naloxone (Narcan)\t1"
        assert await page.locator("#entries tbody tr").count() == len(services.content.kb.entries)
        await site.shot(page, "knowledge")

        # No page names a signer: only the export holds them.
        for path in ("/", f"/petitions/{PETITION}", "/broadcasts", "/calendar", "/knowledge"):
            await page.goto(site.base + path)
            html = await page.content()
            for name, email, _ in SIGNERS:
                assert name not in html and email not in html
            for person in SUBSCRIBERS:
                assert str(person["id"]) not in html


async def test_a_used_and_an_expired_link_are_refused(browser: Browser, tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as site, site.visit(browser, signed_in=False) as page:
        link = await site.link()
        await page.goto(link)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(site.base + "/")
        await page.context.clear_cookies()

        response = await page.goto(link)
        assert response is not None and response.status == 403
        assert "already been used" in await page.locator("#reason").inner_text()
        await site.shot(page, "used-link")

        response = await page.goto(await site.link(age=timedelta(minutes=11)))
        assert response is not None and response.status == 403
        assert "expired" in await page.locator("#reason").inner_text()

        response = await page.goto(site.base + "/")
        assert response is not None and response.status == 401


async def test_the_export_downloads_what_the_command_line_exports(
    browser: Browser, tmp_path: Path, services: Services
) -> None:
    async with running(tmp_path, services) as site, site.visit(browser) as page:
        await page.goto(f"{site.base}/petitions/{PETITION}")
        # Not re-confirmed: nothing downloads.
        await page.get_by_role("button", name="Download").click()
        assert "Tick the box" in await page.locator(".problem").inner_text()

        downloaded = {}
        for fmt in ("csv", "json"):
            await page.get_by_label(fmt.upper()).check()
            await page.get_by_label("I understand").check()
            async with page.expect_download() as waiting:
                await page.get_by_role("button", name="Download").click()
            download = await waiting.value
            assert download.suggested_filename == f"{PETITION}-signatures.{fmt}"
            target = tmp_path / f"browser.{fmt}"
            await download.save_as(target)
            downloaded[fmt] = target.read_bytes()

        for fmt in ("csv", "json"):
            out = tmp_path / f"cli.{fmt}"
            argv = ["--config", str(site.config_file), "export", "signatures", "--petition", PETITION]
            assert await asyncio.to_thread(main, [*argv, "--format", fmt, "--out", str(out)]) == 0
            if fmt == "csv":
                assert downloaded["csv"] == out.read_bytes()
            else:
                # The same document but for the moment each was made.
                ours, theirs = json.loads(downloaded["json"]), json.loads(out.read_bytes())
                assert ours.pop("exported_at") and theirs.pop("exported_at")
                assert ours == theirs
        assert b"Signer Number0" in downloaded["csv"] and b"brasil2@example.org" in downloaded["csv"]

        # Each export is in the audit list: who, when, which format and how many; never what.
        await page.goto(f"{site.base}/petitions/{PETITION}")
        audit = await page.locator("#audit tbody").inner_text()
        assert audit.count(f"telegram:{ORGANISER}") == 2 and "JSON" in audit and "CSV" in audit
        assert "Signer" not in audit
        await site.shot(page, "petition-after-export")


async def test_a_broadcast_composed_in_the_browser_reaches_telegram(
    browser: Browser, tmp_path: Path, services: Services
) -> None:
    async with running(tmp_path, services) as site, site.visit(browser) as page:
        await page.get_by_role("link", name="Broadcasts", exact=True).click()
        await page.get_by_label("Message").fill(BROADCAST)
        await page.get_by_label("Topic").select_option("news")
        await page.get_by_role("button", name="Preview").click()
        # The chat flow's preview: the message as recipients get it (its footer too), and who they are.
        assert BROADCAST in await page.locator("#message").inner_text()
        assert "6" in await page.locator("#summary").inner_text()
        await site.shot(page, "broadcast-preview")
        await page.get_by_role("button", name="Send it").click()
        await page.wait_for_url(f"{site.base}/broadcasts/*")

        sent = await site.tg.wait_for(
            "sendMessage",
            lambda call: BROADCAST in str(call.params.get("text")),
            count=len(SUBSCRIBERS),
            timeout=20,
        )
        assert {call.params["chat_id"] for call in sent} == {person["id"] for person in SUBSCRIBERS}
        # The page follows the broadcast until it is done (its script reloads it), then shows the funnel.
        await page.wait_for_selector('#status[data-state="done"]', timeout=20_000)
        assert await page.locator('#progress [data-count="sent"]').inner_text() == str(len(SUBSCRIBERS))
        assert await page.locator("figure svg.chart").count() == 1
        await site.shot(page, "broadcast")


async def test_a_forged_cookie_and_a_missing_csrf_token_are_refused(
    browser: Browser, tmp_path: Path, services: Services
) -> None:
    async with running(tmp_path, services) as site:
        async with site.visit(browser, signed_in=False) as page:
            await page.context.add_cookies([{"name": "dashboard_session", "value": "forged-token", "url": site.base}])
            response = await page.goto(site.base + "/")
            assert response is not None and response.status == 401
            assert "send /dashboard" in await page.content()

        async with site.visit(browser) as page:
            await page.get_by_role("link", name="Broadcasts", exact=True).click()
            await page.get_by_label("Message").fill(BROADCAST)
            await page.locator("form.compose input[name=csrf]").evaluate("input => input.remove()")
            await page.get_by_role("button", name="Preview").click()
            assert "out of date" in await page.locator("#reason").inner_text()
            await site.shot(page, "csrf-refused")
            assert site.tg.calls_to("sendMessage") == []

            # Signing out ends the session: the cookie no longer opens anything.
            await page.goto(site.base + "/")
            await page.get_by_role("button", name="Sign out").click()
            assert "signed out" in await page.content()
            response = await page.goto(site.base + "/")
            assert response is not None and response.status == 401
