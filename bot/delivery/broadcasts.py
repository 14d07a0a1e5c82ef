"""Creating a broadcast: one function, whether an organiser writes it in a chat or on the server."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.delivery.outbox import Outbox

# The longest message a broadcast may hold.
MAX_BROADCAST_CHARS = 3000


@dataclass(frozen=True, slots=True)
class Created:
    id: int
    # The recipients queued, when it was started at once; None when the scheduler starts it at its time.
    queued: int | None


async def create_broadcast(
    outbox: Outbox,
    *,
    topic: str,
    body: str,
    language: str | None,
    platform: str | None,
    now: datetime,
    send_at: datetime | None = None,
    report_to: tuple[str, str] | None = None,
) -> Created:
    """Queue a broadcast to ``topic``'s subscribers (of ``language`` and on ``platform``, when given).

    Due now (no ``send_at``), its recipients are queued at once; later, the scheduler starts it then.
    ``report_to``: the platform and chat the delivery figures go to when it has finished.
    """
    broadcast_id = await outbox.create(
        kind="broadcast",
        topic=topic,
        body=body,
        language=language,
        platform=platform,
        send_at=send_at or now,
        now=now,
        report_to=report_to,
    )
    if broadcast_id is None:
        raise RuntimeError("a broadcast has no key to clash with: it is always created")
    if send_at is not None:
        return Created(broadcast_id, None)
    broadcast = await outbox.get(broadcast_id)
    if broadcast is None:
        raise RuntimeError(f"broadcast {broadcast_id} vanished as it was created")
    return Created(broadcast_id, await outbox.start(broadcast, now))
