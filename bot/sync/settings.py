"""The ``sync:`` section of the configuration: the CRM destinations and the sync outbox's pace.

Secrets are never here: a destination names the environment variable that holds its token or key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

ACTION_NETWORK = "action-network"
WEBHOOK = "webhook"
KINDS = (ACTION_NETWORK, WEBHOOK)
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_ENV = re.compile(r"[A-Z_][A-Z0-9_]{0,99}")


@dataclass(frozen=True)
class Destination:
    # "action-network" or "webhook".
    kind: str = ""
    # The organisation as people read it in the consent question ("Share my name and e-mail with …").
    organisation: str = ""
    # action-network: the API's root (another OSDI system's, or a test server's).
    base_url: str = "https://actionnetwork.org"
    # webhook: where the events are POSTed.
    url: str | None = None
    # The environment variable holding the Action Network API key, or the webhook's signing secret.
    secret_env: str = ""
    # action-network: tags added to every person synced (add_tags).
    tags: tuple[str, ...] = ()
    # Requests per second at most (a whole number of 1 or more).
    per_second: float = 4.0


@dataclass(frozen=True)
class SyncConfig:
    # Attempts at an event that keeps failing with a temporary error, before it is given up and reported.
    max_attempts: int = 8
    # Waits between attempts double from retry_base_seconds up to retry_max_seconds, with jitter.
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 600.0
    # Requests in flight per destination at once: the most a crash can leave in doubt.
    window: int = 8
    # Seconds an instance holds the right to sync without renewing it (several instances: one syncs;
    # after a crash another takes over once this has passed).
    lease_seconds: float = 30.0
    # Seconds to wait for a CRM's answer.
    timeout_seconds: float = 20.0
    # The CRMs, by the name content/petitions.yaml uses in `sync:`.
    destinations: Mapping[str, Destination] = field(default_factory=dict)


def problems(config: SyncConfig) -> list[str]:
    """What is wrong with the section, each as "<option>: <reason>"."""
    found: list[str] = []
    if config.max_attempts < 1 or not 0 < config.retry_base_seconds <= config.retry_max_seconds:
        found.append("sync: need max_attempts >= 1 and 0 < retry_base_seconds <= retry_max_seconds")
    if not 1 <= config.window <= 100:
        found.append("sync.window: must be between 1 and 100")
    if config.lease_seconds <= 0 or config.timeout_seconds <= 0:
        found.append("sync: lease_seconds and timeout_seconds must be above 0")
    for name, destination in config.destinations.items():
        where = f"sync.destinations.{name}"
        if not _NAME.fullmatch(name):
            found.append(f"{where}: a name is lower-case letters, digits and '-' (at most 40)")
        if destination.kind not in KINDS:
            found.append(f"{where}.kind: {destination.kind!r} is not one of {', '.join(KINDS)}")
        if not destination.organisation:
            found.append(f"{where}.organisation: needed (people are asked to share their details with it)")
        if not _ENV.fullmatch(destination.secret_env):
            found.append(f"{where}.secret_env: the name of an environment variable (LIKE_THIS) is needed")
        if destination.per_second < 1:
            found.append(f"{where}.per_second: must be 1 or more")
        address = destination.url if destination.kind == WEBHOOK else destination.base_url
        if destination.kind in KINDS and not (address or "").startswith(("https://", "http://")):
            option = "url" if destination.kind == WEBHOOK else "base_url"
            found.append(f"{where}.{option}: an http(s):// address is needed")
    return found
