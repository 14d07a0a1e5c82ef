"""Schema migrations, applied in order at start-up. Append; never edit one that has shipped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    # One statement each: sqlite3's executescript() would commit the migration's transaction.
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "users",
        (
            """
        CREATE TABLE users (
            -- HMAC of platform and platform user id: the platform id itself is never stored.
            id TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            -- The language the user chose with /language; NULL means "follow the platform".
            language TEXT,
            created_at TEXT NOT NULL
        )
        """,
        ),
    ),
    Migration(
        2,
        "campaigns",
        (
            """
        CREATE TABLE keyring (
            -- "fields", "user-ids", "index": random working keys, each AES-GCM-wrapped with the secret key.
            purpose TEXT PRIMARY KEY,
            wrapped BLOB NOT NULL,
            created_at TEXT NOT NULL
        )
        """,
            """
        CREATE TABLE pledges_taken (
            pledge_id TEXT NOT NULL,
            user_id TEXT NOT NULL REFERENCES users (id),
            taken_at TEXT NOT NULL,
            PRIMARY KEY (pledge_id, user_id)
        ) WITHOUT ROWID
        """,
            "CREATE INDEX pledges_taken_by_user ON pledges_taken (user_id)",
            """
        CREATE TABLE signatures (
            id INTEGER PRIMARY KEY,
            petition_id TEXT NOT NULL,
            user_id TEXT NOT NULL REFERENCES users (id),
            -- Personal fields: AES-GCM ciphertexts, never the clear text.
            name BLOB NOT NULL,
            email BLOB,
            country BLOB,
            -- Keyed hash of the normalised e-mail, to refuse a second signature with it.
            email_index TEXT,
            consent_version INTEGER NOT NULL,
            signed_at TEXT NOT NULL,
            UNIQUE (petition_id, user_id),
            UNIQUE (petition_id, email_index)
        )
        """,
            "CREATE INDEX signatures_by_user ON signatures (user_id)",
            "CREATE INDEX signatures_by_day ON signatures (petition_id, signed_at)",
            """
        CREATE TABLE subscriptions (
            user_id TEXT NOT NULL REFERENCES users (id),
            -- "action-days", "petitions", "news"
            topic TEXT NOT NULL,
            platform TEXT NOT NULL,
            -- Where to deliver (the platform's chat id), encrypted.
            address BLOB NOT NULL,
            language TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (user_id, topic)
        ) WITHOUT ROWID
        """,
            "CREATE INDEX subscriptions_by_topic ON subscriptions (topic)",
            """
        CREATE TABLE conversations (
            user_id TEXT PRIMARY KEY REFERENCES users (id),
            flow TEXT NOT NULL,
            -- The answers so far (a name, say): encrypted JSON.
            state BLOB NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
            "CREATE INDEX conversations_by_age ON conversations (updated_at)",
            """
        CREATE TABLE tallies (
            -- "pledge:<id>" or "petition:<id>": kept by the triggers below, so a count is one row
            -- to read however many have signed, and can never drift from the rows it counts.
            name TEXT PRIMARY KEY,
            count INTEGER NOT NULL CHECK (count >= 0)
        ) WITHOUT ROWID
        """,
            """
        CREATE TRIGGER pledge_taken AFTER INSERT ON pledges_taken BEGIN
            INSERT INTO tallies (name, count) VALUES ('pledge:' || NEW.pledge_id, 1)
            ON CONFLICT (name) DO UPDATE SET count = count + 1;
        END
        """,
            """
        CREATE TRIGGER pledge_withdrawn AFTER DELETE ON pledges_taken BEGIN
            UPDATE tallies SET count = count - 1 WHERE name = 'pledge:' || OLD.pledge_id;
        END
        """,
            """
        CREATE TRIGGER signature_added AFTER INSERT ON signatures BEGIN
            INSERT INTO tallies (name, count) VALUES ('petition:' || NEW.petition_id, 1)
            ON CONFLICT (name) DO UPDATE SET count = count + 1;
        END
        """,
            """
        CREATE TRIGGER signature_removed AFTER DELETE ON signatures BEGIN
            UPDATE tallies SET count = count - 1 WHERE name = 'petition:' || OLD.petition_id;
        END
        """,
        ),
    ),
    Migration(
        3,
        "broadcasts",
        (
            # The IANA time zone chosen with /timezone or inferred from the country; NULL: the default.
            "ALTER TABLE users ADD COLUMN timezone TEXT",
            """
        CREATE TABLE broadcasts (
            id INTEGER PRIMARY KEY,
            -- "broadcast" (an organiser's text) or "reminder" (an action day, from the calendar)
            kind TEXT NOT NULL,
            topic TEXT NOT NULL,
            -- Audience filters; NULL: everyone subscribed to the topic.
            language TEXT,
            platform TEXT,
            -- The organiser's text (light markup), or the action day's id for a reminder.
            body TEXT NOT NULL,
            -- "day-id:YEAR:days-before" for a reminder: each is created once.
            reminder_key TEXT UNIQUE,
            -- scheduled -> sending -> done, or cancelled
            state TEXT NOT NULL,
            send_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            -- Where the final report goes: the organiser's platform and chat (encrypted).
            report_platform TEXT,
            report_address BLOB
        )
        """,
            "CREATE INDEX broadcasts_by_state ON broadcasts (state, send_at)",
            """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            broadcast_id INTEGER NOT NULL REFERENCES broadcasts (id),
            user_id TEXT NOT NULL,
            platform TEXT NOT NULL,
            -- A copy of the subscription's encrypted chat id.
            address BLOB NOT NULL,
            language TEXT NOT NULL,
            due_at TEXT NOT NULL,
            -- pending -> sending -> sent | failed | skipped (unsubscribed) | expired (too late) | cancelled
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            -- Why it failed: the kind of error only, never the message.
            error TEXT,
            updated_at TEXT NOT NULL,
            UNIQUE (broadcast_id, user_id)
        )
        """,
            "CREATE INDEX outbox_due ON outbox (platform, state, due_at)",
            "CREATE INDEX outbox_by_broadcast ON outbox (broadcast_id, state)",
            "CREATE INDEX outbox_by_user ON outbox (user_id)",
        ),
    ),
    Migration(
        4,
        "adapter settings",
        (
            """
        CREATE TABLE adapter_settings (
            -- What an adapter keeps per place: a Discord server's announcement channel and
            -- organiser role, a hash of the commands last synced. Never personal data.
            platform TEXT NOT NULL,
            -- Where it applies ("guild:123", "global").
            scope TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (platform, scope, name)
        ) WITHOUT ROWID
        """,
        ),
    ),
    Migration(
        5,
        "sealed time zones, coarse times",
        (
            # The time zone, encrypted: inferred from the country someone gave, it says where they live.
            # The clear column of migration 3 stays empty from now on (Core.open moves what it held).
            "ALTER TABLE users ADD COLUMN zone BLOB",
            """
        CREATE TRIGGER users_timezone_retired_on_insert BEFORE INSERT ON users WHEN NEW.timezone IS NOT NULL
        BEGIN
            SELECT RAISE(ABORT, 'users.timezone is retired: the zone is stored encrypted in users.zone');
        END
        """,
            """
        CREATE TRIGGER users_timezone_retired_on_update BEFORE UPDATE OF timezone ON users
        WHEN NEW.timezone IS NOT NULL
        BEGIN
            SELECT RAISE(ABORT, 'users.timezone is retired: the zone is stored encrypted in users.zone');
        END
        """,
            # When someone joined, pledged, signed or subscribed: the day is all anyone needs, and the
            # moment, joined with a platform's logs, would point at their account.
            "UPDATE users SET created_at = substr(created_at, 1, 10) || 'T00:00:00+00:00'",
            "UPDATE pledges_taken SET taken_at = substr(taken_at, 1, 10) || 'T00:00:00+00:00'",
            "UPDATE signatures SET signed_at = substr(signed_at, 1, 10) || 'T00:00:00+00:00'",
            "UPDATE subscriptions SET created_at = substr(created_at, 1, 10) || 'T00:00:00+00:00'",
            # A message's exact moments are needed only until it is settled; after that, when it went
            # would point at the recipient's account (platform logs) and, for a reminder due at 10:00
            # local time, at their time zone.
            """
        CREATE TRIGGER outbox_settled AFTER UPDATE OF state ON outbox
        WHEN NEW.state IN ('sent', 'failed', 'skipped', 'expired', 'cancelled')
        BEGIN
            UPDATE outbox SET due_at = substr(NEW.due_at, 1, 10) || 'T00:00:00+00:00',
                updated_at = substr(NEW.updated_at, 1, 10) || 'T00:00:00+00:00'
            WHERE id = NEW.id;
        END
        """,
            "UPDATE outbox SET due_at = substr(due_at, 1, 10) || 'T00:00:00+00:00',"
            " updated_at = substr(updated_at, 1, 10) || 'T00:00:00+00:00'"
            " WHERE state IN ('sent', 'failed', 'skipped', 'expired', 'cancelled')",
        ),
    ),
    Migration(
        6,
        "crm sync",
        (
            """
        CREATE TABLE sync_consents (
            -- A signer's answer to "Share my name and e-mail with <organisation>", asked only for a
            -- petition with a CRM destination: the question as they read it, and its version.
            user_id TEXT NOT NULL REFERENCES users (id),
            petition_id TEXT NOT NULL,
            destination TEXT NOT NULL,
            shared INTEGER NOT NULL,
            version INTEGER NOT NULL,
            language TEXT NOT NULL,
            question TEXT NOT NULL,
            answered_at TEXT NOT NULL,
            PRIMARY KEY (user_id, petition_id)
        )
        """,
            """
        CREATE TABLE sync_outbox (
            id INTEGER PRIMARY KEY,
            -- Sent with the event: a receiver that saw it already ignores it.
            event_id TEXT NOT NULL UNIQUE,
            destination TEXT NOT NULL,
            -- signature.created, signature.erased, pledge.taken, pledge.withdrawn
            event TEXT NOT NULL,
            -- The petition or pledge.
            subject TEXT NOT NULL,
            -- NULL once the person is forgotten.
            user_id TEXT,
            -- What the request needs, encrypted; NULL once the row is settled.
            sealed BLOB,
            -- pending -> sending -> sent | failed | cancelled
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            -- What the CRM calls the record (Action Network's signature identifier): never posted twice.
            remote_id TEXT,
            -- A step left to the organisers (erasing a record the CRM's API cannot erase); NULL: none.
            manual TEXT,
            -- Whether organisers were told of this row's failure or manual step.
            reported INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            due_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
            "CREATE INDEX sync_outbox_due ON sync_outbox (destination, state, due_at)",
            "CREATE INDEX sync_outbox_by_user ON sync_outbox (user_id)",
            """
        CREATE TABLE leases (
            -- Which instance does a job only one may do (CRM sync), until when unless renewed.
            role TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )
        """,
        ),
    ),
    Migration(
        7,
        "dashboard",
        (
            # Every table below holds an organiser as their pseudonymous key (the HMAC of their platform
            # id, like users.id), and a link or a session as the SHA-256 of its token: a copy of the
            # database signs nobody in.
            """
        CREATE TABLE dashboard_links (
            token_hash TEXT PRIMARY KEY,
            organiser TEXT NOT NULL,
            -- The language the dashboard opens in: the organiser's in the chat the link was asked from.
            language TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            -- Set when it signed someone in: a link works once.
            used_at TEXT
        )
        """,
            """
        CREATE TABLE dashboard_sessions (
            token_hash TEXT PRIMARY KEY,
            organiser TEXT NOT NULL,
            language TEXT NOT NULL,
            -- Every form of the session carries it (and the server compares it) against cross-site requests.
            csrf TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )
        """,
            "CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions (expires_at)",
            """
        CREATE TABLE export_audit (
            id INTEGER PRIMARY KEY,
            organiser TEXT NOT NULL,
            petition_id TEXT NOT NULL,
            format TEXT NOT NULL,
            -- How many signatures it held; never what they were.
            count INTEGER NOT NULL,
            exported_at TEXT NOT NULL
        )
        """,
            """
        CREATE TABLE counters (
            -- "served:<entry id>", "served:fallback", "opt-out:<topic>": counts only, never who or what
            -- was asked.
            name TEXT NOT NULL,
            -- The UTC day (YYYY-MM-DD) they were counted on.
            day TEXT NOT NULL,
            count INTEGER NOT NULL CHECK (count >= 0),
            PRIMARY KEY (name, day)
        )
        """,
            # The dashboard's figures, read from these indexes alone: subscribers per language and per
            # platform (each person once), signatures per consent version.
            "CREATE INDEX subscriptions_by_language ON subscriptions (language, user_id)",
            "CREATE INDEX subscriptions_by_platform ON subscriptions (platform, user_id)",
            "CREATE INDEX signatures_by_consent ON signatures (petition_id, consent_version)",
        ),
    ),
    Migration(
        8,
        "several instances",
        (
            # Who claimed a row being sent, and until when: when an instance dies with rows in flight,
            # another takes them over once the lease has run out (not only when the first restarts).
            "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
            "ALTER TABLE outbox ADD COLUMN lease_until TEXT",
            """
        CREATE TABLE updates (
            -- A platform's updates as they arrive, by the platform's own number: one delivered again
            -- (a webhook retried, to another instance) is handled once, and one chat's are handled in
            -- order whichever instance receives them. Forgotten after a day.
            platform TEXT NOT NULL,
            update_id INTEGER NOT NULL,
            -- A keyed hash of the chat, never its id; emptied once the update is handled.
            chat TEXT NOT NULL,
            -- received -> handled
            state TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (platform, update_id)
        ) WITHOUT ROWID
        """,
            "CREATE INDEX updates_by_chat ON updates (platform, chat, update_id)",
            "CREATE INDEX updates_by_age ON updates (received_at)",
        ),
    ),
)
