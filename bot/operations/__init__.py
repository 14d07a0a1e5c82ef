"""Running an installation: serving (the adapters, delivery engines, scheduler and heartbeat together),
monitoring (/healthz, /metrics), logs and their redaction, the doctor's checks, ``init`` and backups."""
