"""A PostgreSQL server and an MLflow tracking server for the `services` tests, started
on loopback only and stopped by whoever started them.

PostgreSQL refuses to run as root, so as root the cluster belongs to the unprivileged
``postgres`` user (created with ``useradd`` when missing); TCP connections need a
password (scram-sha-256), connections on the Unix socket (in the cluster's private
folder) are trusted. Not a test module: tests/test_services.py uses it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PG_USER = "bench"
OS_USER = "postgres"
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pg_bin_dir() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, or Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _server_account() -> pwd.struct_passwd | None:
    """The account the cluster runs as: None for this (non-root) user; as root the
    ``postgres`` user, created when missing."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(OS_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", OS_USER], check=True
        )
        return pwd.getpwnam(OS_USER)


@dataclass
class Postgres:
    """A running cluster in a private temporary folder."""

    root: Path
    bin_dir: Path
    port: int
    password: str
    account: pwd.struct_passwd | None

    def url(self, database: str, driver: str = "postgresql", password: bool = False) -> str:
        """A URL of ``database`` over TCP; without the password unless asked (libpq then
        reads it from PGPASSWORD)."""
        auth = f"{PG_USER}:{self.password}" if password else PG_USER
        return f"{driver}://{auth}@{HOST}:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run statements one by one outside a transaction (CREATE DATABASE needs that)."""
        import psycopg

        with psycopg.connect(
            host=HOST,
            port=self.port,
            user=PG_USER,
            password=self.password,
            dbname=database,
            autocommit=True,
        ) as conn:
            for statement in split_sql(sql):
                conn.execute(statement)

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        kwargs = {}
        if self.account is not None:
            kwargs = {
                "user": self.account.pw_uid,
                "group": self.account.pw_gid,
                "extra_groups": [],
            }
        return subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            cwd=self.root,
            env={"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"},
            capture_output=True,
            text=True,
            timeout=120,
            **kwargs,
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder."""
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def split_sql(sql: str) -> list[str]:
    """The statements of a plain SQL file (``--`` comments dropped, split at ``;``)."""
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def start_postgres(password: str) -> Postgres:
    """initdb into a new private folder and start the server on a free loopback port."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL's initdb is neither on PATH nor in /usr/lib/postgresql")
    account = _server_account()
    root = Path(tempfile.mkdtemp(prefix="ald-pg-"))
    pg = Postgres(root, bin_dir, free_port(), password, account)
    try:
        pwfile = root / "pwfile"
        pwfile.write_text(password + "\n")
        if account is not None:
            for path in (root, pwfile):
                os.chown(path, account.pw_uid, account.pw_gid)
        init = pg._run(
            "initdb",
            "-D",
            str(root / "data"),
            "-U",
            PG_USER,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
        )
        pwfile.unlink()
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr[-2000:]}")
        options = (
            f"-c listen_addresses={HOST} -p {pg.port} -c unix_socket_directories={root} "
            "-c max_connections=100"
        )
        start = pg._run(
            "pg_ctl",
            "-D",
            str(root / "data"),
            "-l",
            str(root / "postgres.log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )
        if start.returncode != 0:
            log = (root / "postgres.log").read_text() if (root / "postgres.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {start.stderr[-1000:]} {log[-2000:]}")
    except BaseException:
        pg.stop()
        raise
    return pg


@dataclass
class MlflowServer:
    """`mlflow server` in its own process group (the group is what gets stopped)."""

    proc: subprocess.Popen
    port: int
    log: Path

    @property
    def uri(self) -> str:
        return f"http://{HOST}:{self.port}"

    def status(self, host_header: str) -> int:
        """The HTTP status of a search-experiments call sent with the given Host header."""
        request = urllib.request.Request(
            f"{self.uri}/api/2.0/mlflow/experiments/search?max_results=1",
            headers={"Host": host_header},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def stop(self) -> None:
        """SIGTERM to the group, then SIGKILL to what is left of it: the server's job
        consumers (huey) can outlive its main process."""
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=wait)


def start_mlflow_server(
    backend_uri: str,
    artifacts: Path,
    env: dict[str, str],
    log: Path,
    allowed_hosts: str | None = None,
    timeout: float = 240.0,
) -> MlflowServer:
    """Start `mlflow server` on a free loopback port and wait for its /health."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend_uri,
        "--artifacts-destination",
        str(artifacts),
        "--host",
        HOST,
        "--port",
        str(port),
        # one request worker: the machine has 2 cores and the tests train on them
        "--workers",
        "1",
    ]
    if allowed_hosts:
        cmd += ["--allowed-hosts", allowed_hosts]
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = MlflowServer(proc, port, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.uri}/health", timeout=5) as response:
                if response.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(1)
    server.stop()
    raise RuntimeError(f"mlflow server not healthy in {timeout:g} s: {log.read_text()[-3000:]}")
