"""Signing organisers in without passwords: a link that works once within ten minutes opens a session
of twelve hours.

Tokens come from :mod:`secrets`; the store keeps only their SHA-256 (a copy of the database signs
nobody in) and the organiser's pseudonymous key. A link is checked against the configured organisers
again when it is used, and a session at every request: someone taken off the list is signed out.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.config import Config
from bot.privacy.crypto import Keyring
from bot.storage.database import Store, stamp

LINK_LIFETIME = timedelta(minutes=10)
SESSION_LIFETIME = timedelta(hours=12)
# Where links open a sign-in page, under the dashboard's address.
SIGNIN_PATH = "/signin/"


class Refusal(StrEnum):
    """Why a link signs nobody in (logged as it is: it names no one)."""

    UNKNOWN = "unknown"
    USED = "already used"
    EXPIRED = "expired"
    NOT_ORGANISER = "no longer an organiser's"


@dataclass(frozen=True, slots=True)
class Session:
    organiser: str
    language: str
    csrf: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Opened:
    """A session just opened: its token goes into the cookie, and only there."""

    token: str
    session: Session


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def base_url(config: Config) -> str:
    web = config.web
    return (web.public_url or f"http://{web.listen}:{web.port}").rstrip("/")


class SignIn:
    def __init__(self, store: Store, keyring: Keyring, config: Config) -> None:
        self.store = store
        self.keyring = keyring
        self.config = config

    def organisers(self) -> dict[str, str]:
        """Each configured organiser's pseudonymous key, with the organiser ("platform:id")."""
        found = {}
        for organiser in self.config.organisers:
            platform, _, user = organiser.partition(":")
            found[self.keyring.user_id(platform, user)] = organiser
        return found

    async def link(self, platform: str, user: str, language: str, now: datetime) -> str:
        """A sign-in link for the organiser ``platform:user`` (who must be configured as one)."""
        if not self.config.is_organiser(platform, user):
            raise ValueError(f"{platform}:{user} is not among the configured organisers")
        token = secrets.token_urlsafe(32)
        async with self.store.transaction() as db:
            # Old links are of no use to anyone: forgotten as new ones are made.
            await db.execute("DELETE FROM dashboard_links WHERE expires_at < ?", (stamp(now - LINK_LIFETIME),))
            await db.execute(
                "INSERT INTO dashboard_links (token_hash, organiser, language, expires_at) VALUES (?, ?, ?, ?)",
                (token_hash(token), self.keyring.user_id(platform, user), language, stamp(now + LINK_LIFETIME)),
            )
        return base_url(self.config) + SIGNIN_PATH + token

    async def check(self, token: str, now: datetime) -> Refusal | None:
        """Why the link of ``token`` would be refused, if it would (it is not used by looking)."""
        row = await self.store.row(
            "SELECT organiser, expires_at, used_at FROM dashboard_links WHERE token_hash = ?", (token_hash(token),)
        )
        if row is None:
            return Refusal.UNKNOWN
        if row["used_at"] is not None:
            return Refusal.USED
        if datetime.fromisoformat(row["expires_at"]) <= now:
            return Refusal.EXPIRED
        if row["organiser"] not in self.organisers():
            return Refusal.NOT_ORGANISER
        return None

    async def language(self, token: str) -> str | None:
        """The language the link of ``token`` opens the dashboard in, if there is such a link."""
        row = await self.store.row("SELECT language FROM dashboard_links WHERE token_hash = ?", (token_hash(token),))
        return str(row[0]) if row else None

    async def redeem(self, token: str, now: datetime) -> Opened | Refusal:
        """Use the link of ``token``: a new session, or why not. Two uses at once: one wins."""
        refusal = await self.check(token, now)
        if refusal is not None:
            return refusal
        opened = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = now + SESSION_LIFETIME
        async with self.store.transaction() as db:
            cursor = await db.execute(
                "UPDATE dashboard_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
                (stamp(now), token_hash(token)),
            )
            if cursor.rowcount != 1:
                return Refusal.USED
            row = await db.row(
                "SELECT organiser, language FROM dashboard_links WHERE token_hash = ?", (token_hash(token),)
            )
            if row is None:
                return Refusal.UNKNOWN
            await db.execute("DELETE FROM dashboard_sessions WHERE expires_at < ?", (stamp(now),))
            await db.execute(
                "INSERT INTO dashboard_sessions (token_hash, organiser, language, csrf, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (token_hash(opened), row["organiser"], row["language"], csrf, stamp(expires)),
            )
        return Opened(opened, Session(row["organiser"], row["language"], csrf, expires))

    async def session(self, token: str, now: datetime) -> Session | None:
        """The session of a cookie's ``token``, if it is open and its organiser still is one."""
        row = await self.store.row(
            "SELECT organiser, language, csrf, expires_at FROM dashboard_sessions WHERE token_hash = ?",
            (token_hash(token),),
        )
        if row is None or datetime.fromisoformat(row["expires_at"]) <= now or row["organiser"] not in self.organisers():
            return None
        return Session(row["organiser"], row["language"], row["csrf"], datetime.fromisoformat(row["expires_at"]))

    async def sign_out(self, token: str) -> None:
        async with self.store.transaction() as db:
            await db.execute("DELETE FROM dashboard_sessions WHERE token_hash = ?", (token_hash(token),))
