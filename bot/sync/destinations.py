"""The CRMs' wire formats: Action Network's Record Signature Helper (OSDI) and a signed webhook.

Each client turns one event into one HTTP request and its answer into an outcome, or raises what
the delivery contract names: ``RetryAfter`` (429), ``TemporaryFailure`` (network, 5xx, Action
Network's empty 200), ``PermanentFailure`` (401 and other 4xx). Nothing here logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

# aiohttp: a maintained asyncio HTTP client (TLS, timeouts, connection reuse), already installed with
# discord.py and the metrics extra; only a deployment with CRM destinations imports this module.
import aiohttp

from bot.port.delivery import PermanentFailure, RetryAfter, TemporaryFailure
from bot.sync.outbox import PLEDGE_TAKEN, PLEDGE_WITHDRAWN, SIGNATURE_CREATED, SIGNATURE_ERASED, Claimed
from bot.sync.settings import ACTION_NETWORK, Destination

# When a 429 names no time (or one that cannot be read), wait this long.
DEFAULT_RETRY_AFTER = 60.0
SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"


class MissingSecret(Exception):
    """The environment variable a destination names is not set."""


@dataclass(frozen=True, slots=True)
class Sent:
    # What the CRM calls the record (Action Network's "action_network:<uuid>"); None: nothing to keep.
    remote_id: str | None = None
    # A step the API leaves to organisers.
    manual: str | None = None


class Client(Protocol):
    destination: Destination

    async def send(self, row: Claimed) -> Sent: ...

    async def close(self) -> None: ...


def split_name(name: str) -> tuple[str, str | None]:
    """Given and family name from the one name a signer typed: the first word, and the rest ("María José
    García" -> "María", "José García"; one word: no family name). Wrong for some names (family name first);
    the CRM shows both parts together, so nothing is lost."""
    given, _, family = name.strip().partition(" ")
    return given, family.strip() or None


def retry_after(value: str | None, now: float) -> float:
    """Seconds to wait from a Retry-After header: a number of seconds, or an HTTP date."""
    if not value:
        return DEFAULT_RETRY_AFTER
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def secret(destination: Destination) -> str:
    value = os.environ.get(destination.secret_env, "")
    if not value:
        raise MissingSecret(f"{destination.secret_env} is not set")
    return value


class HttpClient:
    def __init__(self, destination: Destination, timeout: float) -> None:
        self.destination = destination
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # trust_env: a deployment behind a proxy sets HTTPS_PROXY (and NO_PROXY) as for anything else.
            self._session = aiohttp.ClientSession(timeout=self.timeout, trust_env=True)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        try:
            async with self.session.post(url, data=body, headers={**headers}) as response:
                payload = await response.read()
                if response.status == 429:
                    raise RetryAfter(retry_after(response.headers.get("Retry-After"), time.time()))
                if response.status >= 500 or response.status == 408:
                    raise TemporaryFailure(f"HTTP {response.status}")
                if response.status >= 400:
                    raise PermanentFailure(f"HTTP {response.status}")
                return response.status, payload
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TemporaryFailure(type(exc).__name__) from exc


class ActionNetwork(HttpClient):
    """Action Network's helpers: a signature (person matched by e-mail: a replay updates, never duplicates),
    and an unsubscribe for an erasure (its API cannot delete a person or a signature)."""

    def _headers(self) -> dict[str, str]:
        return {"OSDI-API-Token": secret(self.destination), "Content-Type": "application/hal+json"}

    def _url(self, path: str) -> str:
        return f"{self.destination.base_url.rstrip('/')}/api/v2/{path}"

    async def send(self, row: Claimed) -> Sent:
        data = row.data
        if row.event == SIGNATURE_CREATED:
            if row.remote_id is not None:
                # Recorded already (a retry after the answer was stored): never posted twice.
                return Sent(row.remote_id)
            return Sent(await self._signature(data))
        if row.event == SIGNATURE_ERASED:
            return await self._erase(data)
        raise PermanentFailure(f"Action Network takes no {row.event}")

    async def _signature(self, data: Mapping[str, Any]) -> str:
        given, family = split_name(str(data["name"]))
        person: dict[str, Any] = {"given_name": given}
        if family:
            person["family_name"] = family
        if data.get("email"):
            person["email_addresses"] = [{"address": data["email"]}]
        if data.get("country"):
            person["postal_addresses"] = [{"country": data["country"]}]
        body: dict[str, Any] = {"person": person}
        if self.destination.tags:
            body["add_tags"] = list(self.destination.tags)
        if not data.get("remote_petition"):
            raise PermanentFailure("no Action Network petition id (sync.petition in petitions.yaml)")
        url = self._url(f"petitions/{data['remote_petition']}/signatures/")
        _, answer = await self.post(url, json.dumps(body).encode(), self._headers())
        return _identifier(answer)

    async def _erase(self, data: Mapping[str, Any]) -> Sent:
        step = (
            f"delete the signature {data.get('remote_signature') or '(identifier unknown)'} on Action Network"
            " petition " + str(data.get("petition")) + " and the person who made it (People > find by the"
            " signature, then Delete): Action Network's API cannot delete them"
        )
        if not data.get("email"):
            return Sent(None, step)
        # The Person Signup Helper with the e-mail's status "unsubscribed": no more e-mail from the group.
        body = {"person": {"email_addresses": [{"address": data["email"], "status": "unsubscribed"}]}}
        _, answer = await self.post(self._url("people/"), json.dumps(body).encode(), self._headers())
        return Sent(_identifier(answer), step)


def _identifier(answer: bytes) -> str:
    """The record's identifier from a HAL+JSON answer; an empty (or unreadable) 200 is a failure: Action
    Network answers some errors so."""
    try:
        document = json.loads(answer) if answer.strip() else None
    except ValueError:
        document = None
    identifiers = document.get("identifiers") if isinstance(document, dict) else None
    if not identifiers or not isinstance(identifiers[0], str):
        raise TemporaryFailure("empty answer")
    return identifiers[0]


def signature(secret_value: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256, keyed with the secret, of the timestamp, ".", and the body."""
    digest = hmac.new(secret_value.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_body(row: Claimed, now: datetime) -> dict[str, Any]:
    """The JSON posted for an event (docs/sync-webhook.schema.json describes it)."""
    data = row.data
    body: dict[str, Any] = {"id": row.event_id, "type": row.event, "created": now.astimezone(UTC).isoformat()}
    if row.event == SIGNATURE_CREATED:
        given, family = split_name(str(data["name"]))
        body["data"] = {
            "petition": data["petition"],
            "supporter": data["supporter"],
            "name": data["name"],
            "given_name": given,
            "family_name": family,
            "email": data.get("email"),
            "country": data.get("country"),
            "signed_on": data["signed_on"],
            "consent": data["consent"],
        }
    elif row.event == SIGNATURE_ERASED:
        body["data"] = {"petition": data["petition"], "supporter": data["supporter"]}
    elif row.event in (PLEDGE_TAKEN, PLEDGE_WITHDRAWN):
        body["data"] = {
            "pledge": data["pledge"],
            "supporter": data.get("supporter"),
            "count": data["count"],
            "on": data["on"],
        }
    return body


class Webhook(HttpClient):
    """Any other CRM: each event POSTed as JSON, signed with the shared secret, stamped with the time."""

    async def send(self, row: Claimed) -> Sent:
        now = datetime.now(UTC)
        body = json.dumps(webhook_body(row, now), ensure_ascii=False, sort_keys=True).encode()
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(secret(self.destination), timestamp, body),
        }
        assert self.destination.url is not None
        await self.post(self.destination.url, body, headers)
        return Sent(None)


def client(destination: Destination, timeout: float) -> Client:
    return ActionNetwork(destination, timeout) if destination.kind == ACTION_NETWORK else Webhook(destination, timeout)
