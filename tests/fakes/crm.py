"""A fake Action Network (its Record Signature and Person Signup helpers) on 127.0.0.1.

    async with FakeActionNetwork(token="secret") as an:
        ...  # Destination(kind="action-network", base_url=an.base_url, ...)
        an.script("429", "500", "empty", "401")   # the next answers, in order
        assert an.people() == {"maria@example.org"}

It answers as Action Network does: 401 without the right ``OSDI-API-Token``, 400 for a body that is
not an OSDI person, HAL+JSON with the record's ``identifiers`` otherwise. Like Action Network it
matches the signer by e-mail: posting a signature again for the same person and petition updates
it and answers the same identifier, so ``signatures`` holds one per person and petition whatever
the bot replays. It enforces a pace (``per_second``, a sliding one-second window) with 429 and
``Retry-After`` like the real one, and counts each 429 it had to give (``too_many``).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

HAL = "application/hal+json"


@dataclass
class Signature:
    identifier: str
    petition: str
    email: str
    person: dict[str, Any]
    tags: list[str]
    # time.monotonic() of the first arrival.
    arrived: float
    posts: int = 1


@dataclass
class FakeActionNetwork:
    token: str = "an-test-token"
    # Requests per second accepted (None: any); one more in a second gets 429 + Retry-After.
    per_second: float | None = None
    # Seconds before answering (a slow CRM: requests in flight when the bot is killed).
    delay: float = 0.0
    signatures: dict[tuple[str, str], Signature] = field(default_factory=dict)
    unsubscribed: list[str] = field(default_factory=list)
    # Every request: (method, path, status).
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    too_many: int = 0
    _scripted: deque[str] = field(default_factory=deque)
    _recent: deque[float] = field(default_factory=deque)
    _runner: web.AppRunner | None = None
    base_url: str = ""

    def script(self, *answers: str) -> None:
        """The next answers, whatever the request: "429", "500", "empty" (200, no body), "401"."""
        self._scripted.extend(answers)

    def people(self) -> set[str]:
        return {signature.email for signature in self.signatures.values()}

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/api/v2/petitions/{petition}/signatures/", self._signature)
        app.router.add_post("/api/v2/people/", self._signup)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _answer(self, request: web.Request, status: int, body: Any = None, **headers: str) -> web.Response:
        self.calls.append((request.method, request.path, status))
        text = json.dumps(body) if body is not None else ""
        return web.Response(status=status, text=text, content_type=HAL, headers=headers)

    async def _gate(self, request: web.Request) -> web.Response | None:
        """What every request goes through: the script, the pace, the token."""
        if self.delay:
            await asyncio.sleep(self.delay)
        if self._scripted:
            scripted = self._scripted.popleft()
            if scripted == "429":
                return self._answer(request, 429, {"error": "too many requests"}, **{"Retry-After": "1"})
            if scripted == "empty":
                return self._answer(request, 200)
            return self._answer(request, int(scripted), {"error": f"scripted {scripted}"})
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        if self.per_second is not None and len(self._recent) >= self.per_second:
            self.too_many += 1
            return self._answer(request, 429, {"error": "too many requests"}, **{"Retry-After": "1"})
        self._recent.append(now)
        if request.headers.get("OSDI-API-Token") != self.token:
            return self._answer(request, 401, {"error": "API Key invalid or not present"})
        return None

    @staticmethod
    def _osdi_person(body: Any) -> tuple[dict[str, Any], str] | None:
        """The OSDI person of a helper's body, and its e-mail; None if the body is not one."""
        person = body.get("person") if isinstance(body, dict) else None
        if not isinstance(person, dict):
            return None
        emails = person.get("email_addresses")
        if not isinstance(emails, list) or not emails or not isinstance(emails[0], dict):
            return None
        email = emails[0].get("address")
        if set(emails[0]) - {"address", "status"}:
            return None
        allowed = {"given_name", "family_name", "email_addresses", "postal_addresses"}
        if not isinstance(email, str) or "@" not in email or set(person) - allowed:
            return None
        for key in ("given_name", "family_name"):
            if key in person and not isinstance(person[key], str):
                return None
        postal = person.get("postal_addresses", [])
        if not isinstance(postal, list) or any(set(a) - {"country"} or len(a["country"]) != 2 for a in postal):
            return None
        return person, email

    async def _admitted(self, request: web.Request) -> tuple[Any, web.Response | None]:
        """The request's JSON body, or the answer refusing it (the script, the pace, the token, bad JSON)."""
        refused = await self._gate(request)
        if refused is not None:
            return None, refused
        try:
            return await request.json(), None
        except ValueError:
            return None, self._answer(request, 400, {"error": "JSON"})

    async def _signature(self, request: web.Request) -> web.Response:
        body, refused = await self._admitted(request)
        if refused is not None:
            return refused
        found = self._osdi_person(body)
        tags = body.get("add_tags", []) if isinstance(body, dict) else None
        if found is None or "given_name" not in found[0] or not isinstance(tags, list):
            return self._answer(request, 400, {"error": "not a person"})
        person, email = found
        petition = request.match_info["petition"]
        key = (petition, email.casefold())
        signature = self.signatures.get(key)
        if signature is None:
            signature = Signature(f"action_network:{uuid.uuid4()}", petition, email, person, tags, time.monotonic())
            self.signatures[key] = signature
        else:
            signature.posts += 1
            signature.person = person
        return self._answer(
            request,
            200,
            {
                "identifiers": [signature.identifier],
                "created_date": "2026-12-06T00:00:00Z",
                "_links": {
                    "self": {"href": f"{self.base_url}/api/v2/petitions/{petition}/signatures/{signature.identifier}"},
                    "osdi:petition": {"href": f"{self.base_url}/api/v2/petitions/{petition}"},
                },
            },
        )

    async def _signup(self, request: web.Request) -> web.Response:
        """The Person Signup Helper: here only to unsubscribe an e-mail (status "unsubscribed")."""
        body, refused = await self._admitted(request)
        if refused is not None:
            return refused
        found = self._osdi_person(body)
        if found is None or found[0]["email_addresses"][0].get("status") not in (None, "subscribed", "unsubscribed"):
            return self._answer(request, 400, {"error": "not a person"})
        person, email = found
        if person["email_addresses"][0].get("status") == "unsubscribed":
            self.unsubscribed.append(email)
        return self._answer(request, 200, {"identifiers": [f"action_network:{uuid.uuid5(uuid.NAMESPACE_URL, email)}"]})
