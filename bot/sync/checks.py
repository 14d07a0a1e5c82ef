"""What ``advocacy-bot content check`` says about ``sync:`` in the content, against the configuration."""

from __future__ import annotations

from pathlib import Path

from bot.content.model import Campaigns, CrmSync
from bot.content.yamlio import Problem
from bot.sync.settings import ACTION_NETWORK, SyncConfig


def problems(campaigns: Campaigns, settings: SyncConfig, root: Path) -> list[Problem]:
    """Each ``sync:`` must name a destination of config.yaml; Action Network needs its petition's id, and
    takes signatures only (a pledge's events go to a webhook)."""
    known = ", ".join(sorted(settings.destinations)) or "none configured"
    named: list[tuple[str, str, CrmSync | None, str]] = [
        ("petitions.yaml", f"petition {p.id}", p.sync, "give the petition's id there as sync.petition")
        for p in campaigns.petitions.values()
    ]
    named += [
        ("pledges.yaml", f"pledge {p.id}", p.sync, "which takes petition signatures only: name a webhook destination")
        for p in campaigns.pledges.values()
    ]
    found: list[Problem] = []
    for file, what, crm, action_network_needs in named:
        if crm is None:
            continue
        destination = settings.destinations.get(crm.destination)
        if destination is None:
            message = f"no destination {crm.destination!r} in config.yaml's sync.destinations ({known})"
        elif destination.kind == ACTION_NETWORK and (file == "pledges.yaml" or crm.remote_id is None):
            message = f"{crm.destination} is Action Network: {action_network_needs}"
        else:
            continue
        found.append(Problem(root / file, crm.line, f"{what}.sync: {message}"))
    return found
