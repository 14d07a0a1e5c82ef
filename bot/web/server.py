"""The dashboard's HTTP server (aiohttp): sign-in, sessions, the pages, the export and composing a
broadcast.

Every response: ``Content-Security-Policy: default-src 'self'`` (no script or style from anywhere
else, none inline), ``Cache-Control: no-store``, no referrer, no framing. Every page but the sign-in
one needs a session cookie (HttpOnly, SameSite=Strict, Secure behind https); every POST carries the
session's CSRF token. Refused sign-in links are logged without anything that names anyone, and a
client that keeps trying wrong ones is turned away for a while.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from aiohttp import web

from bot.campaigns.export import render_signatures
from bot.campaigns.subscriptions import TOPICS
from bot.content.model import LANGUAGES
from bot.core.app import Core
from bot.core.registry import broadcast_platforms
from bot.delivery.broadcasts import MAX_BROADCAST_CHARS, create_broadcast
from bot.delivery.messages import audience_summary, broadcast_message
from bot.port.redaction import without_message
from bot.web.listening import listen, runner
from bot.web.pages import Page, Pages
from bot.web.render import html
from bot.web.signin import SESSION_LIFETIME, SIGNIN_PATH, Refusal, Session, SignIn, base_url

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
COOKIE = "dashboard_session"
SESSION_KEY = web.RequestKey("session", Session)
TOKEN_KEY = web.RequestKey("token", str)
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
# Refused sign-in links a client may try in WINDOW seconds before it is turned away until they age out.
MAX_FAILURES = 10
WINDOW = 600.0
ALL = "all"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Throttle:
    """Refused sign-ins per client address, over a sliding window."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(client, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return deque()
        return failures

    def blocked(self, client: str) -> bool:
        return len(self._recent(client, time.monotonic())) >= self.limit

    def failed(self, client: str) -> None:
        now = time.monotonic()
        self._recent(client, now)
        self._failures.setdefault(client, deque()).append(now)


class Dashboard:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.settings = core.config.web
        self.signin = SignIn(core.store, core.keyring, core.config)
        self.pages = Pages(core)
        self.throttle = Throttle()
        public = base_url(core.config)
        self.prefix = urlsplit(public).path.rstrip("/")
        self.secure = public.startswith("https://")
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # Compiled now rather than at the first request, which would hold up the event loop meanwhile.
        for name in self.templates.list_templates():
            self.templates.get_template(name)
        self.app = web.Application(middlewares=[self._headers, self._signed_in])
        routes = self.app.router
        routes.add_get("/", self._overview)
        routes.add_get("/petitions/{petition}", self._petition)
        routes.add_post("/petitions/{petition}/export", self._export)
        routes.add_get("/broadcasts", self._broadcasts)
        routes.add_post("/broadcasts/preview", self._preview)
        routes.add_post("/broadcasts/send", self._send)
        routes.add_get("/broadcasts/{id:\\d+}", self._broadcast)
        routes.add_get("/broadcasts/{id:\\d+}/progress", self._progress)
        routes.add_get("/calendar", self._calendar)
        routes.add_get("/knowledge", self._knowledge)
        routes.add_post("/signout", self._signout)
        routes.add_get(SIGNIN_PATH + "{token}", self._signin_page)
        routes.add_post(SIGNIN_PATH + "{token}", self._signin)
        routes.add_static("/static", HERE / "static", append_version=False)
        self._runner = runner(self.app)

    # -- running ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen; an OSError (the port is taken) is the caller's to report."""
        await listen(self._runner, self.settings.listen, self.settings.port)
        log.info("dashboard on http://%s:%d/", self.settings.listen, self.settings.port)

    async def close(self) -> None:
        await self._runner.cleanup()

    # -- middleware -------------------------------------------------------------------------

    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response: web.StreamResponse
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = web.Response(status=exc.status, headers=exc.headers, text=exc.text)
        except Exception as exc:
            # Which page, never its address (a sign-in link's holds the token) nor the exception's
            # message (it may quote a value).
            log.error("dashboard: %s failed: %s", request.match_info.route.resource, without_message(exc))
            response = web.Response(status=500, text="500: the dashboard failed; the bot's log says where\n")
        response.headers.update(HEADERS)
        return response

    @web.middleware
    async def _signed_in(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith((SIGNIN_PATH, "/static/")):
            return await handler(request)
        token = request.cookies.get(COOKIE, "")
        session = await self.signin.session(token, self.core.clock()) if token else None
        if session is None:
            return self._render("signed_out.html", self.core.config.default_language, None, status=401)
        if request.method == "POST":
            form = await request.post()
            given = form.get("csrf")
            if not isinstance(given, str) or not hmac.compare_digest(given, session.csrf):
                return self._render("refused.html", session.language, session, status=403, reason="csrf")
        request[SESSION_KEY] = session
        request[TOKEN_KEY] = token
        return await handler(request)

    # -- rendering --------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.prefix + path

    def _render(
        self, template: str, lang: str, session: Session | None, *, status: int = 200, **values: Any
    ) -> web.Response:
        def t(key: str, **params: Any) -> str:
            return self.pages.t(lang, key, **params)

        text = self.templates.get_template(template).render(
            lang=lang, t=t, url=self.url, csrf=session.csrf if session else "", signed_in=session is not None, **values
        )
        return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")

    def _page(self, request: web.Request, page: Page | None, template: str) -> web.Response:
        session = request[SESSION_KEY]
        if page is None:
            return self._render("refused.html", session.language, session, status=404, reason="not_found")
        return self._render(template, session.language, session, page=page, title=page.title, **page.values)

    # -- sign-in ----------------------------------------------------------------------------

    def _client(self, request: web.Request) -> str:
        return request.remote or "unknown"

    def _refused(self, request: web.Request, refusal: Refusal) -> web.Response:
        self.throttle.failed(self._client(request))
        log.warning("dashboard: a sign-in link was refused (%s)", refusal.value)
        lang = self.core.config.default_language
        return self._render("refused.html", lang, None, status=403, reason=refusal.name.lower())

    def _throttled(self, request: web.Request) -> web.Response | None:
        if not self.throttle.blocked(self._client(request)):
            return None
        log.warning("dashboard: sign-in attempts turned away after %d refused links", MAX_FAILURES)
        return self._render("refused.html", self.core.config.default_language, None, status=429, reason="throttled")

    async def _signin_page(self, request: web.Request) -> web.Response:
        # Looking does not use the link: a chat app that fetches it for a preview signs nobody in.
        throttled = self._throttled(request)
        if throttled is not None:
            return throttled
        token = request.match_info["token"]
        refusal = await self.signin.check(token, self.core.clock())
        if refusal is not None:
            return self._refused(request, refusal)
        lang = await self.signin.language(token) or self.core.config.default_language
        return self._render("signin.html", lang, None)

    async def _signin(self, request: web.Request) -> web.Response:
        throttled = self._throttled(request)
        if throttled is not None:
            return throttled
        opened = await self.signin.redeem(request.match_info["token"], self.core.clock())
        if isinstance(opened, Refusal):
            return self._refused(request, opened)
        response = web.Response(status=303, headers={"Location": self.url("/")})
        response.set_cookie(
            COOKIE,
            opened.token,
            max_age=int(SESSION_LIFETIME.total_seconds()),
            path=self.url("/"),
            httponly=True,
            samesite="Strict",
            secure=self.secure,
        )
        return response

    async def _signout(self, request: web.Request) -> web.Response:
        await self.signin.sign_out(request[TOKEN_KEY])
        response = self._render("signed_out.html", request[SESSION_KEY].language, None, signed_out=True)
        response.del_cookie(COOKIE, path=self.url("/"))
        return response

    def who(self) -> Callable[[str], str]:
        """The organiser ("telegram:123") a pseudonymous key stands for, for the export audit."""
        organisers = self.signin.organisers()
        return lambda key: organisers.get(key, "—")

    # -- pages ------------------------------------------------------------------------------

    async def _overview(self, request: web.Request) -> web.Response:
        return self._page(request, await self.pages.overview(request[SESSION_KEY].language), "overview.html")

    async def _petition(self, request: web.Request) -> web.Response:
        lang = request[SESSION_KEY].language
        page = await self.pages.petition(lang, request.match_info["petition"], self.who())
        return self._page(request, page, "petition.html")

    async def _export(self, request: web.Request) -> web.StreamResponse:
        session = request[SESSION_KEY]
        petition_id = request.match_info["petition"]
        form = await request.post()
        fmt = form.get("format")
        if petition_id not in self.core.content.campaigns.petitions or fmt not in ("csv", "json"):
            return self._render("refused.html", session.language, session, status=404, reason="not_found")
        if form.get("confirm") != "yes":
            page = await self.pages.petition(session.language, petition_id, self.who())
            return self._render(
                "petition.html",
                session.language,
                session,
                status=400,
                page=page,
                title=page.title if page else "",
                unconfirmed=True,
                **(page.values if page else {}),
            )
        # The same code as `advocacy-bot export signatures`: the file is the same, byte for byte.
        signatures = await self.core.signatures.signatures(petition_id)
        text = await asyncio.to_thread(render_signatures, petition_id, signatures, str(fmt))
        await self.pages.figures.record_export(
            session.organiser, petition_id, str(fmt), len(signatures), self.core.clock()
        )
        log.info("dashboard: petition %s exported (%d signatures)", petition_id, len(signatures))
        filename = quote(f"{petition_id}-signatures.{fmt}")
        return web.Response(
            body=text.encode(),
            content_type="text/csv" if fmt == "csv" else "application/json",
            charset="utf-8",
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
        )

    async def _broadcasts(self, request: web.Request) -> web.Response:
        return self._page(request, await self.pages.broadcasts(request[SESSION_KEY].language), "broadcasts.html")

    async def _broadcast(self, request: web.Request) -> web.Response:
        lang = request[SESSION_KEY].language
        return self._page(request, await self.pages.broadcast(lang, int(request.match_info["id"])), "broadcast.html")

    async def _progress(self, request: web.Request) -> web.Response:
        progress = await self.pages.progress(int(request.match_info["id"]))
        if progress is None:
            raise web.HTTPNotFound()
        return web.json_response(progress)

    async def _calendar(self, request: web.Request) -> web.Response:
        return self._page(request, await self.pages.calendar(request[SESSION_KEY].language), "calendar.html")

    async def _knowledge(self, request: web.Request) -> web.Response:
        return self._page(request, await self.pages.knowledge(request[SESSION_KEY].language), "knowledge.html")

    # -- composing a broadcast --------------------------------------------------------------

    def _draft(self, form: Any, lang: str) -> tuple[dict[str, str], list[str]]:
        """The broadcast in ``form``, and what is wrong with it (each problem in words)."""
        draft = {key: str(form.get(key, "")) for key in ("body", "topic", "language", "platform")}
        draft["body"] = draft["body"].strip()
        problems = []
        body = draft["body"]
        if not body or len(body) > MAX_BROADCAST_CHARS:
            problems.append(
                self.core.locales.text(lang, "broadcast.bad_length", count=MAX_BROADCAST_CHARS, length=len(body))
            )
        if draft["topic"] not in TOPICS:
            problems.append(self.pages.t(lang, "bad_choice", field=self.pages.t(lang, "topic")))
        if draft["language"] not in (ALL, *LANGUAGES):
            problems.append(self.pages.t(lang, "bad_choice", field=self.pages.t(lang, "language")))
        if draft["platform"] not in (ALL, *broadcast_platforms()):
            problems.append(self.pages.t(lang, "bad_choice", field=self.pages.t(lang, "platform")))
        return draft, problems

    async def _preview(self, request: web.Request) -> web.Response:
        session = request[SESSION_KEY]
        lang = session.language
        draft, problems = self._draft(await request.post(), lang)
        page = await self.pages.broadcasts(lang)
        if problems:
            values = {**page.values, "draft": draft, "problems": problems}
            return self._render("broadcasts.html", lang, session, status=400, page=page, title=page.title, **values)
        language = None if draft["language"] == ALL else draft["language"]
        platform = None if draft["platform"] == ALL else draft["platform"]
        # What recipients get and who they are: the chat flow's own code, so the two previews agree.
        audience = await self.pages.outbox.audience_size(draft["topic"], language, platform)
        message = broadcast_message(self.core.locales, draft["body"], draft["topic"], language or lang)
        summary = audience_summary(self.core.locales, lang, audience, draft["topic"], language, platform)
        return self._render(
            "preview.html",
            lang,
            session,
            title=self.pages.t(lang, "preview"),
            page=Page("broadcasts", self.pages.t(lang, "preview")),
            draft=draft,
            message=html(message.text),
            summary=html(summary),
        )

    async def _send(self, request: web.Request) -> web.Response:
        session = request[SESSION_KEY]
        draft, problems = self._draft(await request.post(), session.language)
        if problems:
            return self._render("refused.html", session.language, session, status=400, reason="bad_broadcast")
        created = await create_broadcast(
            self.pages.outbox,
            topic=draft["topic"],
            body=draft["body"],
            language=None if draft["language"] == ALL else draft["language"],
            platform=None if draft["platform"] == ALL else draft["platform"],
            now=self.core.clock(),
        )
        log.info("broadcast %d queued from the dashboard: %d recipient(s)", created.id, created.queued or 0)
        self.core.wake_delivery()
        raise web.HTTPSeeOther(self.url(f"/broadcasts/{created.id}"))
