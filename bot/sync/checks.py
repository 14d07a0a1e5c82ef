"""What ``advocacy-bot content check`` says about ``sync:`` in the content, against the configuration."""

from __future__ import annotations

from pathlib import Path

from bot.content.model import Campaigns
from bot.content.yamlio import Problem
from bot.sync.settings import ACTION_NETWORK, SyncConfig


def problems(campaigns: Campaigns, settings: SyncConfig, root: Path) -> list[Problem]:
    """Each ``sync:`` must name a destination of config.yaml; Action Network needs its petition's id, and
    takes signatures only (a pledge's events go to a webhook)."""
    found: list[Problem] = []
    known = ", ".join(sorted(settings.destinations)) or "none configured"
    for petition in campaigns.petitions.values():
        crm = petition.sync
        if crm is None:
            continue
        where = root / "petitions.yaml"
        destination = settings.destinations.get(crm.destination)
        if destination is None:
            found.append(
                Problem(
                    where,
                    crm.line,
                    f"petition {petition.id}.sync: no destination {crm.destination!r} in "
                    f"config.yaml's sync.destinations ({known})",
                )
            )
        elif destination.kind == ACTION_NETWORK and crm.remote_id is None:
            found.append(
                Problem(
                    where,
                    crm.line,
                    f"petition {petition.id}.sync: {crm.destination} is Action Network: "
                    "give the petition's id there as sync.petition",
                )
            )
    for pledge in campaigns.pledges.values():
        crm = pledge.sync
        if crm is None:
            continue
        where = root / "pledges.yaml"
        destination = settings.destinations.get(crm.destination)
        if destination is None:
            found.append(
                Problem(
                    where,
                    crm.line,
                    f"pledge {pledge.id}.sync: no destination {crm.destination!r} in "
                    f"config.yaml's sync.destinations ({known})",
                )
            )
        elif destination.kind == ACTION_NETWORK:
            found.append(
                Problem(
                    where,
                    crm.line,
                    f"pledge {pledge.id}.sync: {crm.destination} is Action Network, which "
                    "takes petition signatures only: name a webhook destination",
                )
            )
    return found
