"""A throwaway PostgreSQL cluster for tests and benchmarks: Debian's server binaries, a data folder and a
Unix socket in a temporary directory, no TCP port, stopped and removed at the end.

``initdb`` refuses to run as root (as CI does): the cluster then runs as the ``postgres`` system user
(``runuser``), in a folder that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


class Unavailable(Exception):
    """No PostgreSQL server binaries on this machine (or they cannot run)."""


def binaries() -> Path:
    """The newest installed server's bin folder; Unavailable with the reason if there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise Unavailable("PostgreSQL is not installed (apt-get install postgresql)")
    return Path(found[-1]).parent


@dataclass
class Cluster:
    folder: Path
    bin: Path
    user: str | None
    started: bool = field(default=False)

    @property
    def socket_dir(self) -> str:
        return str(self.folder)

    def url(self, database: str = "postgres") -> str:
        """A libpq URL to ``database`` over the Unix socket (no password: trust on the socket only)."""
        user = self.user or pwd.getpwuid(os.getuid()).pw_name
        return f"postgresql://{user}@/{database}?host={self.socket_dir}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise Unavailable(f"{args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done

    @classmethod
    def start(cls, *, durable: bool = False) -> Cluster:
        """A new cluster, running. ``durable``: fsync at every commit, as a server would (benchmarks);
        otherwise none, which a throwaway test cluster does not need."""
        bin_dir = binaries()
        user = "postgres" if os.geteuid() == 0 else None
        folder = Path(tempfile.mkdtemp(prefix="advocacy-bot-pg-"))
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        cluster = cls(folder, bin_dir, user)
        try:
            cluster._run("initdb", "-D", str(folder / "data"), "-A", "trust", "-E", "UTF8", "--no-locale")
            options = [
                "-c listen_addresses=''",
                f"-c unix_socket_directories={folder}",
                "-c max_connections=300",
                "-c shared_buffers=64MB",
            ]
            if not durable:
                options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
            cluster._run(
                "pg_ctl", "-D", str(folder / "data"), "-l", str(folder / "log"), "-w", "-o", " ".join(options), "start"
            )
            cluster.started = True
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def psql(self, sql: str, database: str = "postgres") -> str:
        return self._run("psql", "-X", "-q", "-At", "-h", self.socket_dir, "-d", database, "-c", sql).stdout

    def stop(self) -> None:
        if self.started:
            with contextlib.suppress(Unavailable):
                self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
            self.started = False
        shutil.rmtree(self.folder, ignore_errors=True)
