"""What the bot counts for its operators, in the Prometheus format (served by ``bot.operations.monitoring``).

Counts only: a label is a platform, a kind of event or reply, an outbox state, a failure reason, or
a pledge or petition id from the content; never a person, a chat or anything anyone wrote. Each
core has a registry of its own. Figures that the store holds (the outbox, sign-ups and pledges) are
read from it at each scrape, so they are right across restarts and other processes' writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.campaigns.petitions import Signatures
from bot.campaigns.pledges import Pledges
from bot.content.model import Campaigns
from bot.core.registry import names as platform_names
from bot.port.events import ButtonPress, Command, Gone, Input, Reply, ReplyKind, Text
from bot.qa.crisis import CRISIS_ENTRY

KINDS: dict[type, str] = {Text: "text", Command: "command", ButtonPress: "button", Gone: "gone"}
# Outbox states that are still to be delivered: the queue's depth.
WAITING = ("pending", "sending")
# From a millisecond to ten seconds: answers are mostly a few ms, a slow store or host shows above.
ANSWER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self._updates = Counter(
            "advocacy_bot_updates",
            "Events handled (messages, commands, button presses), by platform and kind",
            ["platform", "kind"],
            registry=registry,
        )
        self._answer_seconds = Histogram(
            "advocacy_bot_answer_seconds",
            "Time the core took to answer an event, by platform",
            ["platform"],
            buckets=ANSWER_BUCKETS,
            registry=registry,
        )
        self._replies = Counter(
            "advocacy_bot_replies",
            "Replies by kind: answer, emergency, crisis, smalltalk, clarify, fallback, refusal, info, error",
            ["platform", "kind"],
            registry=registry,
        )
        self._sent = Counter(
            "advocacy_bot_messages_sent",
            "Broadcast and reminder messages delivered, by platform",
            ["platform"],
            registry=registry,
        )
        self._failed = Counter(
            "advocacy_bot_messages_failed",
            "Broadcast and reminder messages given up on, by platform and reason",
            ["platform", "reason"],
            registry=registry,
        )
        self._rate_limited = Counter(
            "advocacy_bot_rate_limited",
            "429 Too Many Requests answers received from a platform",
            ["platform"],
            registry=registry,
        )
        self._outbox = Gauge(
            "advocacy_bot_outbox_messages",
            "Messages still to deliver, by platform and state (pending: waiting; sending: handed to the platform)",
            ["platform", "state"],
            registry=registry,
        )
        self._lag = Gauge(
            "advocacy_bot_outbox_lag_seconds",
            "How long the oldest message that is due has been waiting, by platform (0: none is late)",
            ["platform"],
            registry=registry,
        )
        self._signatures = Gauge(
            "advocacy_bot_petition_signatures", "Signatures per petition", ["petition"], registry=registry
        )
        self._pledges = Gauge("advocacy_bot_pledges", "People who took each pledge", ["pledge"], registry=registry)

    # -- counted as it happens -------------------------------------------------------------

    def handled(self, platform: str, content: Input, replies: Sequence[Reply], seconds: float) -> None:
        self._updates.labels(platform, KINDS[type(content)]).inc()
        self._answer_seconds.labels(platform).observe(seconds)
        for reply in replies:
            # The crisis answer is an emergency reply of its own entry: counted apart, so that operators
            # see how often people in crisis reach the bot.
            kind = "crisis" if reply.kind is ReplyKind.EMERGENCY and reply.entry == CRISIS_ENTRY else reply.kind.value
            self._replies.labels(platform, kind).inc()

    def sent(self, platform: str) -> None:
        self._sent.labels(platform).inc()

    def failed(self, platform: str, reason: str) -> None:
        self._failed.labels(platform, reason).inc()

    def rate_limited(self, platform: str) -> None:
        self._rate_limited.labels(platform).inc()

    # -- read from the store at each scrape ------------------------------------------------

    async def refresh(self, pledges: Pledges, signatures: Signatures, campaigns: Campaigns, now: datetime) -> None:
        store = pledges.store
        for platform in platform_names():
            rows = await store.rows(
                "SELECT state, COUNT(*), MIN(CASE WHEN state = 'pending' THEN due_at END) FROM outbox"
                " WHERE platform = ? AND state IN ('pending', 'sending') GROUP BY state",
                (platform,),
            )
            counts = {str(row[0]): int(row[1]) for row in rows}
            for state in WAITING:
                self._outbox.labels(platform, state).set(counts.get(state, 0))
            oldest = min((datetime.fromisoformat(row[2]) for row in rows if row[2]), default=None)
            lag = (now - oldest).total_seconds() if oldest is not None else 0.0
            self._lag.labels(platform).set(max(0.0, lag))
        signed = await signatures.signature_counts()
        for petition in campaigns.petitions:
            self._signatures.labels(petition).set(signed.get(petition, 0))
        taken = await pledges.pledge_counts()
        for pledge in campaigns.pledges:
            self._pledges.labels(pledge).set(taken.get(pledge, 0))

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)
