"""CRM sync: the signer's separate consent, Action Network and the signed webhook against local fakes,
retries, permanent errors, erasure, one syncing instance among several."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import jsonschema
import pytest
import yaml
from fakes.crm import FakeActionNetwork
from fakes.webhook import FakeWebhook
from helpers import ROOT, storage_section
from sync_support import (
    AN_TOKEN,
    AN_TOKEN_ENV,
    PETITION,
    PLEDGE,
    WEBHOOK_SECRET,
    WEBHOOK_SECRET_ENV,
    Reports,
    close_engines,
    engine_for,
    sign_up,
    sign_up_and_share,
    sync_config,
    sync_services,
)
from testbot import TestBot

from bot.cli import main
from bot.content import BUNDLED_CONTENT, check, load
from bot.content.model import CrmSync
from bot.core.app import Services
from bot.core.config import Config, ConfigError, from_mapping
from bot.features.petitions import SHARE_QUESTION_VERSION, Petitions
from bot.features.pledges import Pledges
from bot.operations.doctor import diagnose
from bot.port.clock import ManualClock
from bot.port.plaintext import render
from bot.sync.checks import problems
from bot.sync.destinations import split_name
from bot.sync.outbox import Claimed, Outcome, pending_manual_steps
from bot.sync.report import organiser_report
from bot.sync.settings import Destination, SyncConfig

SCHEMA = json.loads((ROOT / "docs" / "sync-webhook.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AN_TOKEN_ENV, AN_TOKEN)
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, WEBHOOK_SECRET)


@pytest.fixture(autouse=True)
async def engines_closed() -> AsyncIterator[None]:
    yield
    await close_engines()


@pytest.fixture
async def an() -> AsyncIterator[FakeActionNetwork]:
    async with FakeActionNetwork(token=AN_TOKEN) as fake:
        yield fake


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    with FakeWebhook(WEBHOOK_SECRET) as fake:
        yield fake


def an_bot(config: Config, services: Services, an: FakeActionNetwork) -> AbstractAsyncContextManager[TestBot]:
    """The bot, its petition shared with the fake Action Network."""
    return TestBot.started(sync_config(config, an=an.base_url), sync_services(services, "an"))


async def rows(bot: TestBot) -> list[dict[str, object]]:
    found = await bot.core.store.rows("SELECT * FROM sync_outbox ORDER BY id")
    return [dict(row) for row in found]


# ---------------------------------------------------------------- consent


async def test_without_a_destination_nothing_is_asked_and_nothing_leaves(bot: TestBot) -> None:
    replies = await sign_up(bot)
    assert "Thank you, Maria López!" in replies
    assert "share my name" not in replies.lower()
    assert await rows(bot) == []


async def test_a_destination_missing_from_the_configuration_asks_nothing(config: Config, services: Services) -> None:
    async with TestBot.started(config, sync_services(services, "an")) as bot:
        assert "share my name" not in (await sign_up(bot)).lower()
        assert await rows(bot) == []


async def test_yes_queues_the_signature_with_the_question_as_read(
    config: Config, services: Services, an: FakeActionNetwork
) -> None:
    async with an_bot(config, services, an) as bot:
        replies = await sign_up(bot)
        # A separate question, nothing chosen for them: two buttons, and nothing queued before a Yes.
        assert "share my name and e-mail with Harm Reduction Now so they can contact me?" in replies
        assert await rows(bot) == []
        assert "will be shared with Harm Reduction Now" in await bot.press("Yes, share")
        [row] = await rows(bot)
        assert (row["destination"], row["event"], row["state"], row["subject"]) == (
            "an",
            "signature.created",
            "pending",
            PETITION,
        )
        # The name and e-mail are sealed in the row, never in clear.
        sealed = row["sealed"]
        assert isinstance(sealed, bytes) and b"maria@example.org" not in sealed
        consent = await bot.core.store.row("SELECT * FROM sync_consents")
        assert consent is not None
        assert (consent["shared"], consent["version"], consent["language"]) == (1, SHARE_QUESTION_VERSION, "en")
        assert "Share my name and e-mail with Harm Reduction Now" in consent["question"].replace("share", "Share")
        # /mydata shows the answer with the rest.
        assert "Sharing your name and e-mail with Harm Reduction Now" in await bot.ask("/mydata")
        # Answered once: a second press changes nothing.
        assert "already answered" in await bot.act(Petitions.SHARE.build("no", PETITION, SHARE_QUESTION_VERSION))
        assert len(await rows(bot)) == 1


async def test_no_records_the_answer_and_nothing_leaves(
    config: Config, services: Services, an: FakeActionNetwork
) -> None:
    async with an_bot(config, services, an) as bot:
        await sign_up(bot)
        assert "nothing is shared with Harm Reduction Now" in await bot.press("No, don't share")
        assert await rows(bot) == []
        assert await bot.core.sync.answered(bot.core.keyring.user_id("console", "tester"), PETITION) is False
        assert await engine_for(bot).elect()
        assert await engine_for(bot).run_once("an") == 0
        assert an.calls == []


async def test_action_network_is_not_offered_a_signer_without_an_e_mail(
    config: Config, services: Services, an: FakeActionNetwork
) -> None:
    async with an_bot(config, services, an) as bot:
        await bot.ask(f"/sign {PETITION}")
        await bot.ask("Maria López")
        await bot.press("Skip")
        await bot.ask("Portugal")
        replies = await bot.press("I agree")
        assert "Thank you, Maria López!" in replies and "share my name" not in replies.lower()


async def test_the_question_of_another_version_or_without_a_signature_is_stale(
    config: Config, services: Services, an: FakeActionNetwork
) -> None:
    async with an_bot(config, services, an) as bot:
        assert "expired" in await bot.act(Petitions.SHARE.build("yes", PETITION, SHARE_QUESTION_VERSION))
        await sign_up(bot)
        assert "expired" in await bot.act(Petitions.SHARE.build("yes", PETITION, SHARE_QUESTION_VERSION + 1))
        assert await rows(bot) == []


def test_a_name_is_split_at_its_first_space() -> None:
    assert split_name("María José García") == ("María", "José García")
    assert split_name("Nadia") == ("Nadia", None)
    assert split_name("  Ana   Lopes ") == ("Ana", "Lopes")


# ---------------------------------------------------------------- Action Network


async def test_action_network_gets_one_osdi_signature_and_its_identifier_is_kept(
    config: Config, services: Services, an: FakeActionNetwork
) -> None:
    async with an_bot(config, services, an) as bot:
        await sign_up_and_share(bot)
        engine = engine_for(bot)
        assert await engine.elect()
        assert await engine.run_once("an") == 1
        [signature] = an.signatures.values()
        assert signature.petition == "an-petition-1"
        assert signature.person == {
            "given_name": "Maria",
            "family_name": "López",
            "email_addresses": [{"address": "maria@example.org"}],
            "postal_addresses": [{"country": "PT"}],
        }
        assert signature.tags == ["advocacy-bot", "petition"]
        [row] = await rows(bot)
        assert (row["state"], row["remote_id"], row["sealed"]) == ("sent", signature.identifier, None)
        # Settled: the moment is coarsened to the day.
        assert str(row["created_at"]).endswith("T00:00:00+00:00")
        # Sent again with the identifier it got (a retry after the answer was stored): nothing is posted.
        replay = Claimed(1, "e" * 32, "an", "signature.created", {}, 1, bot.core.clock(), signature.identifier)
        an_client = engine.clients["an"]
        assert (await an_client.send(replay)).remote_id == signature.identifier
        assert len(an.calls) == 1 and signature.posts == 1


async def test_429_5xx_and_an_empty_200_are_retried_then_delivered_once(
    config: Config, services: Services, an: FakeActionNetwork
) -> None:
    async with an_bot(config, services, an) as bot:
        clock = ManualClock()
        bot.core.clock = clock
        await sign_up_and_share(bot)
        engine = engine_for(bot)
        await engine.elect()
        an.script("429", "500", "empty")
        assert await engine.run_once("an") == 0
        [row] = await rows(bot)
        # Retry-After: 1 is obeyed to the second, and does not count as an attempt.
        assert (row["state"], row["attempts"], row["error"]) == ("pending", 0, "retry-after")
        assert await engine.run_once("an") == 0
        clock.advance(seconds=1)
        assert await engine.run_once("an") == 0
        [row] = await rows(bot)
        assert (row["state"], row["attempts"], str(row["error"])) == ("pending", 1, "temporary: HTTP 500")
        clock.advance(seconds=1)
        await engine.run_once("an")
        [row] = await rows(bot)
        # Action Network answers some errors with an empty 200: not a success.
        assert (row["state"], row["attempts"], str(row["error"])) == ("pending", 2, "temporary: empty answer")
        clock.advance(seconds=1)
        assert await engine.run_once("an") == 1
        assert [status for _, _, status in an.calls] == [429, 500, 200, 200]
        assert len(an.signatures) == 1 and next(iter(an.signatures.values())).posts == 1


async def test_a_permanent_error_stops_the_row_and_is_reported(
    config: Config, services: Services, an: FakeActionNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with an_bot(config, services, an) as bot:
        await sign_up_and_share(bot)
        monkeypatch.setenv(AN_TOKEN_ENV, "a-revoked-token")
        reports = Reports()
        engine = engine_for(bot, reports)
        await engine.elect()
        assert await engine.run_once("an") == 1
        [row] = await rows(bot)
        assert (row["state"], row["error"]) == ("failed", "permanent: HTTP 401")
        # Still sealed: `sync retry --failed` can send it once the token is fixed.
        assert row["sealed"] is not None
        assert await engine.tell_organisers() == 1
        [notice] = reports.notices
        assert (notice.kind, notice.destination, notice.detail) == ("failed", "an", "permanent: HTTP 401")
        assert await engine.tell_organisers() == 0
        monkeypatch.setenv(AN_TOKEN_ENV, AN_TOKEN)
        assert await bot.core.sync.retry(bot.core.clock(), failed=True) == 1
        assert await engine.run_once("an") == 1
        assert an.people() == {"maria@example.org"}
        assert [status for _, _, status in an.calls] == [401, 200]


async def test_a_missing_token_is_a_permanent_error_named_by_its_variable(
    config: Config, services: Services, an: FakeActionNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with an_bot(config, services, an) as bot:
        await sign_up_and_share(bot)
        monkeypatch.delenv(AN_TOKEN_ENV)
        engine = engine_for(bot)
        await engine.elect()
        await engine.run_once("an")
        [row] = await rows(bot)
        assert (row["state"], row["error"]) == ("failed", f"permanent: {AN_TOKEN_ENV} is not set")
        assert an.calls == []


# ---------------------------------------------------------------- the webhook


async def test_webhook_events_are_signed_verified_and_follow_the_schema(
    config: Config, services: Services, hook: FakeWebhook
) -> None:
    settings = sync_config(config, hook=hook.url)
    async with TestBot.started(settings, sync_services(services, "hook", pledge="hook")) as bot:
        await sign_up_and_share(bot)
        await bot.act(Pledges.TAKE.build(PLEDGE))
        await bot.act(Pledges.WITHDRAW.build(PLEDGE))
        engine = engine_for(bot)
        await engine.elect()
        assert await engine.run_once("hook") == 3
        # Sent side by side within a window: in any order.
        events = {event["type"]: event for event in hook.events}
        assert sorted(events) == ["pledge.taken", "pledge.withdrawn", "signature.created"]
        for event in events.values():
            jsonschema.validate(event, SCHEMA, format_checker=jsonschema.FormatChecker())
        created = events["signature.created"]["data"]
        assert (created["given_name"], created["family_name"], created["email"], created["country"]) == (
            "Maria",
            "López",
            "maria@example.org",
            "PT",
        )
        assert created["consent"]["version"] == SHARE_QUESTION_VERSION
        # They agreed to share: their pledges carry the same supporter id as their signature.
        taken, withdrawn = events["pledge.taken"]["data"], events["pledge.withdrawn"]["data"]
        assert taken["supporter"] == withdrawn["supporter"] == created["supporter"]
        assert (taken["count"], withdrawn["count"]) == (1, 0)


async def test_a_pledge_of_someone_who_did_not_agree_to_share_is_anonymous(
    config: Config, services: Services, hook: FakeWebhook
) -> None:
    async with TestBot.started(
        sync_config(config, hook=hook.url), sync_services(services, "hook", pledge="hook")
    ) as bot:
        await bot.act(Pledges.TAKE.build(PLEDGE))
        engine = engine_for(bot)
        await engine.elect()
        await engine.run_once("hook")
        [event] = hook.events
        jsonschema.validate(event, SCHEMA)
        assert event["data"]["supporter"] is None
        [row] = await rows(bot)
        assert row["user_id"] is None


def test_the_receiver_refuses_bad_signatures_stale_times_and_handles_a_replay_once() -> None:
    from bot.sync.destinations import signature

    with FakeWebhook(WEBHOOK_SECRET) as hook:
        receiver = hook.receiver
        import time

        body = json.dumps({"id": "a" * 32, "type": "pledge.taken", "created": "x", "data": {}}).encode()
        now = str(int(time.time()))
        good = {"X-Timestamp": now, "X-Signature": signature(WEBHOOK_SECRET, now, body)}
        assert receiver.verify({**good, "X-Signature": signature("wrong", now, body)}, body) == (401, "bad signature")
        assert receiver.verify(good, body + b" ") == (401, "bad signature")
        old = str(int(time.time()) - 3600)
        stale = {"X-Timestamp": old, "X-Signature": signature(WEBHOOK_SECRET, old, body)}
        assert receiver.verify(stale, body) == (401, "stale timestamp")
        assert receiver.verify(good, body) == (200, "ok")
        assert receiver.verify(good, body) == (200, "already handled")
        assert len(hook.events) == 1


def test_the_readme_shows_the_receiver_example() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = (ROOT / "docs" / "examples" / "webhook_receiver.py").read_text(encoding="utf-8")
    assert example.strip() in readme


# ---------------------------------------------------------------- erasure


async def test_forget_unsubscribes_at_action_network_tells_the_truth_and_leaves_a_manual_step(
    config: Config, services: Services, an: FakeActionNetwork
) -> None:
    async with an_bot(config, services, an) as bot:
        await sign_up_and_share(bot)
        reports = Reports()
        engine = engine_for(bot, reports)
        await engine.elect()
        await engine.run_once("an")
        await bot.ask("/forget")
        told = await bot.press("Yes, erase")
        assert "asked Action Network to unsubscribe your e-mail" in told
        assert "does not let the bot delete your record there" in told
        assert await engine.run_once("an") == 1
        assert an.unsubscribed == ["maria@example.org"]
        [identifier] = [s.identifier for s in an.signatures.values()]
        [step] = await pending_manual_steps(bot.core.store, bot.core.keyring)
        assert identifier in step.detail and "delete" in step.detail
        await engine.tell_organisers()
        assert [n.kind for n in reports.notices] == ["manual"]
        # Nothing of theirs is left in the sync rows: no id, no sealed data.
        assert all(row["user_id"] is None and row["sealed"] is None for row in await rows(bot))
        assert await bot.core.store.rows("SELECT * FROM sync_consents") == []
        assert await bot.core.sync.manual_done(step.id)
        assert await pending_manual_steps(bot.core.store, bot.core.keyring) == []


async def test_forget_before_sending_cancels_and_nothing_leaves(
    config: Config, services: Services, an: FakeActionNetwork
) -> None:
    async with an_bot(config, services, an) as bot:
        await sign_up_and_share(bot)
        await bot.ask("/forget")
        told = await bot.press("Yes, erase")
        assert "Action Network" not in told
        [row] = await rows(bot)
        assert (row["state"], row["sealed"], row["user_id"]) == ("cancelled", None, None)
        engine = engine_for(bot)
        await engine.elect()
        assert await engine.run_once("an") == 0
        assert an.calls == []


async def test_forget_while_the_signature_is_in_flight_and_fails_cancels_it(
    config: Config, services: Services, an: FakeActionNetwork
) -> None:
    async with an_bot(config, services, an) as bot:
        await sign_up_and_share(bot)
        engine = engine_for(bot)
        await engine.elect()
        # In flight (claimed) when the person asks to be forgotten; then the request fails.
        [claimed] = await bot.core.sync.claim("an", bot.core.clock(), 8)
        await bot.ask("/forget")
        assert "Action Network" in await bot.press("Yes, erase")
        await bot.core.sync.record(
            [Outcome(claimed.id, "pending", 1, "temporary: HTTP 500", bot.core.clock())], bot.core.clock()
        )
        created, erased = await rows(bot)
        assert (created["state"], created["sealed"], created["error"]) == ("cancelled", None, "forgotten")
        assert (erased["event"], erased["state"]) == ("signature.erased", "pending")


async def test_forget_sends_signature_erased_to_the_webhook(
    config: Config, services: Services, hook: FakeWebhook
) -> None:
    async with TestBot.started(sync_config(config, hook=hook.url), sync_services(services, "hook")) as bot:
        await sign_up_and_share(bot)
        engine = engine_for(bot)
        await engine.elect()
        await engine.run_once("hook")
        await bot.ask("/forget")
        assert "they have been told that you asked to be forgotten" in await bot.press("Yes, erase")
        await engine.run_once("hook")
        created, erased = hook.events
        jsonschema.validate(erased, SCHEMA)
        assert erased["type"] == "signature.erased"
        assert erased["data"] == {"petition": PETITION, "supporter": created["data"]["supporter"]}
        assert await pending_manual_steps(bot.core.store, bot.core.keyring) == []


# ---------------------------------------------------------------- several instances


async def test_of_several_instances_only_the_lease_holder_syncs(
    config: Config, services: Services, an: FakeActionNetwork
) -> None:
    settings = sync_config(config, an=an.base_url, per_second=50.0)
    async with (
        TestBot.started(settings, sync_services(services, "an")) as first,
        TestBot.started(settings, sync_services(services, "an"), user_id="other") as second,
    ):
        for number in range(6):
            user = TestBot(first.core, f"signer{number}")
            await sign_up(user, email=f"signer{number}@example.org")
            await user.press("Yes, share")
        engines = [engine_for(first), engine_for(second)]
        stops = [asyncio.Event(), asyncio.Event()]
        runs = [asyncio.create_task(engine.run(stop)) for engine, stop in zip(engines, stops, strict=True)]

        async def arrived(count: int) -> None:
            for _ in range(200):
                if len(an.signatures) == count:
                    return
                await asyncio.sleep(0.05)

        await arrived(6)
        leaders = [index for index, engine in enumerate(engines) if engine.leading.is_set()]
        assert len(leaders) == 1
        assert len(an.calls) == 6 and len(an.people()) == 6
        # The leader stops (cleanly: it gives the lease up); the other takes over.
        [leader] = leaders
        stops[leader].set()
        await runs[leader]
        late = TestBot(first.core, "late")
        await sign_up(late, email="late@example.org")
        await late.press("Yes, share")
        engines[1 - leader].wake.set()
        await arrived(7)
        assert engines[1 - leader].leading.is_set()
        assert len(an.calls) == 7
        stops[1 - leader].set()
        await runs[1 - leader]


# ---------------------------------------------------------------- a crash


async def test_a_replay_after_kill_9_mid_sync_loses_nothing_and_duplicates_no_signature(
    config: Config, services: Services, tmp_path: Path
) -> None:
    signers = 40
    # Slow answers and a fast pace: a window of requests is always in flight when the process dies.
    async with FakeActionNetwork(token=AN_TOKEN, delay=0.3) as an:
        settings = sync_config(config, an=an.base_url, per_second=20.0)
        async with TestBot.started(settings, sync_services(services, "an")) as bot:
            for number in range(signers):
                user = TestBot(bot.core, f"signer{number}")
                await sign_up(user, name="Ana Silva", email=f"signer{number}@example.org")
                await user.press("Yes, share")
        path = tmp_path / "config.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "storage": storage_section(config),
                    "sync": {
                        "lease_seconds": 1.0,
                        "destinations": {
                            "an": {
                                "kind": "action-network",
                                "organisation": "Harm Reduction Now",
                                "base_url": an.base_url,
                                "secret_env": AN_TOKEN_ENV,
                                "per_second": 20,
                            }
                        },
                    },
                }
            ),
            encoding="utf-8",
        )

        async def worker() -> asyncio.subprocess.Process:
            return await asyncio.create_subprocess_exec(
                sys.executable, str(ROOT / "tests" / "sync_worker.py"), str(path), cwd=ROOT, env=os.environ.copy()
            )

        async def until(done: Callable[[], bool]) -> None:
            for _ in range(600):
                if done():
                    return
                await asyncio.sleep(0.05)
            raise AssertionError("timed out")

        first = await worker()
        await until(lambda: len(an.signatures) >= 12)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        killed_at = len(an.signatures)
        assert killed_at < signers
        second = await worker()
        try:
            await until(lambda: len(an.signatures) == signers)
            async with TestBot.started(settings, sync_services(services, "an")) as bot:
                for _ in range(100):
                    status = (await bot.core.sync.status())["an"]
                    if status.sent == signers:
                        break
                    await asyncio.sleep(0.1)
                assert (status.sent, status.pending, status.sending, status.failed) == (signers, 0, 0, 0)
                stored = {row[0] for row in await bot.core.store.rows("SELECT remote_id FROM sync_outbox")}
        finally:
            second.send_signal(signal.SIGTERM)
            await second.wait()
        # Nobody lost, nobody twice: one signature per signer at the fake, whose identifiers the rows hold.
        assert an.people() == {f"signer{number}@example.org" for number in range(signers)}
        assert stored == {signature.identifier for signature in an.signatures.values()}
        # Only what was in flight at the kill was posted again (Action Network kept one signature each).
        replayed = sum(signature.posts - 1 for signature in an.signatures.values())
        assert replayed <= settings.sync.window


# ---------------------------------------------------------------- content, configuration, command line


def petitions_with(tmp_path: Path, sync: str) -> Path:
    """A copy of the bundled content whose petition has ``sync`` (YAML, indented as a petition's field)."""
    root = tmp_path / "content"
    shutil.copytree(BUNDLED_CONTENT, root)
    path = root / "petitions.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    goal: 15000\n", f"    goal: 15000\n{sync}", 1), encoding="utf-8")
    return root


def test_content_check_says_where_a_sync_names_an_unknown_destination(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = petitions_with(tmp_path, "    sync:\n      destination: action-network\n      petition: abc-123\n")
    line = next(n for n, text in enumerate((root / "petitions.yaml").open(encoding="utf-8"), 1) if "sync:" in text)
    assert main(["content", "check", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"petitions.yaml:{line}: petition un-decriminalise.sync: no destination 'action-network'" in out
    campaigns = load(root).campaigns
    assert campaigns.petitions[PETITION].sync == CrmSync("action-network", "abc-123")
    an = Destination(kind="action-network", organisation="X", secret_env="KEY")
    assert problems(campaigns, SyncConfig(destinations={"action-network": an}), root) == []


@pytest.mark.parametrize(
    ("sync", "message"),
    [
        ("    sync: [hook]\n", "petition un-decriminalise.sync: expected a destination's name"),
        ("    sync:\n      destination: Hook!\n", "petition un-decriminalise.sync: expected a destination's name"),
        ("    sync:\n      destination: hook\n      petition: a/b\n", "sync.petition: 'a/b' is not an id"),
        ("    sync:\n      to: hook\n", "unknown field 'to'"),
    ],
)
def test_a_malformed_sync_is_a_problem_with_its_line(tmp_path: Path, sync: str, message: str) -> None:
    root = petitions_with(tmp_path, sync)
    found = [p for p in check(root) if p.path.name == "petitions.yaml"]
    assert found and all(p.line > 0 for p in found)
    assert any(message in p.message for p in found)


def test_action_network_needs_the_petition_id_and_takes_no_pledges(tmp_path: Path) -> None:
    root = petitions_with(tmp_path, "    sync: an\n")
    campaigns = load(root).campaigns
    pledges = {**campaigns.pledges, PLEDGE: dataclasses.replace(campaigns.pledges[PLEDGE], sync=CrmSync("an", None, 7))}
    an = Destination(kind="action-network", organisation="X", secret_env="KEY")
    found = problems(dataclasses.replace(campaigns, pledges=pledges), SyncConfig(destinations={"an": an}), root)
    assert [(p.path.name, p.message.split(":")[1].strip()) for p in found] == [
        ("petitions.yaml", "an is Action Network"),
        ("pledges.yaml", "an is Action Network"),
    ]


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ({"kind": "salesforce"}, "sync.destinations.crm.kind: 'salesforce' is not one of action-network, webhook"),
        ({"kind": "webhook", "secret_env": "S", "url": "ftp://x"}, "sync.destinations.crm.organisation: needed"),
        ({"kind": "webhook", "organisation": "O", "secret_env": "S"}, "sync.destinations.crm.url: an http(s)://"),
        ({"kind": "webhook", "organisation": "O", "secret_env": "s", "url": "https://x"}, "secret_env: the name of"),
        (
            {"kind": "action-network", "organisation": "O", "secret_env": "S", "per_second": 0.5},
            "per_second: must be 1",
        ),
        ({"kind": "webhook", "colour": "red"}, "sync.destinations.crm.colour: unknown option"),
    ],
)
def test_a_wrong_destination_is_refused_naming_the_option(destination: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        from_mapping({"sync": {"destinations": {"crm": destination}}})


async def test_sync_status_and_retry_on_the_command_line(
    tmp_path: Path, config: Config, services: Services, an: FakeActionNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = sync_config(config, an=an.base_url)
    path = tmp_path / "config.yaml"
    destination = {"kind": "action-network", "organisation": "O", "base_url": an.base_url, "secret_env": AN_TOKEN_ENV}
    path.write_text(
        yaml.safe_dump({"storage": storage_section(config), "sync": {"destinations": {"an": destination}}}),
        encoding="utf-8",
    )
    async with TestBot.started(settings, sync_services(services, "an")) as bot:
        await sign_up_and_share(bot)
        an.script("401")
        engine = engine_for(bot)
        await engine.elect()
        await engine.run_once("an")
        second = TestBot(bot.core, "second")
        await sign_up(second, email="second@example.org")
        await second.press("Yes, share")
    assert await asyncio.to_thread(main, ["--config", str(path), "sync", "status"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["destination", "pending", "done", "failed", "oldest", "pending"]
    figures = out[1].split()
    assert figures[:4] == ["an", "1", "0", "1"] and figures[4].startswith("0:00:")
    assert any("signature.created un-decriminalise" in line and "permanent: HTTP 401" in line for line in out)
    assert await asyncio.to_thread(main, ["--config", str(path), "sync", "retry"]) == 0
    assert "1 event(s) will be sent at once" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["--config", str(path), "sync", "retry", "--failed"]) == 0
    assert "2 event(s) will be sent at once" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["--config", str(path), "sync", "done", "1"]) == 1
    assert "there is no manual step #1" in capsys.readouterr().err


async def test_the_organisers_report_reaches_organisers_through_the_delivery_engine(
    config: Config, services: Services, an: FakeActionNetwork
) -> None:
    # The report goes to the organiser's id as an address: a Telegram private chat's id is its user's.
    # The console's chat is "console:<user>", so this organiser's "id" is the test console's chat.
    settings = dataclasses.replace(sync_config(config, an=an.base_url), organisers=("console:console:tester",))
    async with TestBot.started(settings, sync_services(services, "an")) as bot:
        await sign_up_and_share(bot)
        an.script("401")
        report = organiser_report(bot.core.locales, "en", settings.organisers, {"console": bot.engine})
        engine = engine_for(bot)
        engine.report = report
        await engine.elect()
        await engine.run_once("an")
        assert await engine.tell_organisers() == 1
        [text] = [render(reply) for reply in bot.received]
        assert "CRM sync: 1 event(s) given up, 0 erasure(s) left to you" in text
        assert "signature.created un-decriminalise: permanent: HTTP 401" in text
        # Ids and names of petitions only: nobody's details.
        assert "maria" not in text.lower()
        # Nobody to tell: not marked reported, so the next organiser who can be reached hears of it.
        assert not await organiser_report(bot.core.locales, "en", ("telegram:1",), {})(await bot.core.sync.notices())


async def test_doctor_checks_each_destination_secret_without_calling_the_crm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.yaml"
    hook = {"kind": "webhook", "organisation": "O", "url": "https://crm.example.org/in", "secret_env": "MISSING_SECRET"}
    an = {"kind": "action-network", "organisation": "O", "secret_env": AN_TOKEN_ENV}
    path.write_text(
        yaml.safe_dump(
            {"storage": {"path": str(tmp_path / "bot.sqlite3")}, "sync": {"destinations": {"hook": hook, "an": an}}}
        ),
        encoding="utf-8",
    )
    monkeypatch.delenv("MISSING_SECRET", raising=False)
    checks = {check.name: check for check in await diagnose(path)}
    assert checks["crm an"].ok and "secret from TEST_AN_TOKEN" in checks["crm an"].detail
    assert not checks["crm hook"].ok
    assert checks["crm hook"].detail == "MISSING_SECRET is not set: nothing can be sent to https://crm.example.org/in"
