"""The deployment files of deploy/: systemd units verified, nginx's example serving in front of
gunicorn over TLS (the `api_key` header, the client's address, the request id, /metrics kept in)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from router import migrate
from router.app import create_app
from router.settings import Settings
from tests.conftest import card_body, esi, person_body
from tests.live_server import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    if SYSTEMD_ANALYZE is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    units = sorted((DEPLOY / "systemd").iterdir())
    assert {u.name for u in units} == {
        "escrouter.service", "escrouter-webhooks.service", "escrouter-purge.service",
        "escrouter-purge.timer",
    }
    env = tmp_path / "escrouter.env"
    shutil.copy(DEPLOY / "escrouter.env", env)
    for unit in units:
        # The units name the production virtualenv; here the test's own, so the commands exist.
        text = unit.read_text().replace("/opt/escrouter/bin/", f"{BIN}/")
        (tmp_path / unit.name).write_text(text.replace("/etc/escrouter/escrouter.env", str(env)))
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", *(str(tmp_path / u.name) for u in units)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    # systemd-analyze only warns about unknown keys and bad values: any output is a failure.
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_the_units_run_the_commands_the_router_has() -> None:
    service = (DEPLOY / "systemd" / "escrouter.service").read_text()
    assert "-c python:router.gunicorn_config" in service and "router.wsgi:app" in service
    webhooks = (DEPLOY / "systemd/escrouter-webhooks.service").read_text()
    purge = (DEPLOY / "systemd/escrouter-purge.service").read_text()
    assert "escr-admin webhooks deliver" in webhooks
    assert "escr-admin verifications purge" in purge
    settings = dict(
        line.split("=", 1)
        for line in (DEPLOY / "escrouter.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    parsed = Settings.from_env({**settings, "ESCR_INSTANCE_PATH": "/var/lib/escrouter"})
    assert parsed.rate_limit_storage.startswith("redis://")
    assert parsed.trusted_proxies == 1


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "router.example.org")])
    now = dt.datetime.now(dt.UTC)

    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("router.example.org"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


@pytest.fixture
def behind_nginx(tmp_path: Path) -> Iterator[dict]:
    """gunicorn (one process, threads) behind nginx running deploy/nginx/escrouter.conf."""
    if NGINX is None:
        pytest.skip("nginx is not installed: apt-get install nginx-light (.ci/run does)")
    settings = Settings(instance_path=tmp_path, secret_key="test-secret")
    migrate.upgrade(settings.database_url)
    app = create_app(settings)
    from router.services import credentials, organisations

    with app.extensions["escr.database"].session() as session:
        org = organisations.create_organisation(
            session, organisations.OrganisationInput(identifier="999999999", name="Demo University")
        )
        key = credentials.create_api_key(session, org).secret
    client = app.test_client()
    auth = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/v2/persons", json=person_body(esi("NGINX"), "999999999"),
                       headers=auth).status_code == 201
    escn = client.post("/api/v2/cards", json=card_body(esi("NGINX"), "999999999"),
                       headers=auth).json["cardNumber"]
    app.extensions["escr.database"].engine.dispose()

    app_port, http_port, https_port = free_port(), free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ESCR_")},
        "ESCR_INSTANCE_PATH": str(tmp_path), "ESCR_SECRET_KEY": "test-secret",
        "ESCR_TRUSTED_PROXIES": "1", "ESCR_PUBLIC_RATE_LIMIT": "2/hour",
    }
    log = tmp_path / "gunicorn.log"
    with log.open("w") as sink:
        gunicorn = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:router.gunicorn_config",
             "--bind", f"127.0.0.1:{app_port}", "router.wsgi:app"],
            env=env, stdout=subprocess.DEVNULL, stderr=sink,
        )
    cert, private = _self_signed(tmp_path)
    site = (DEPLOY / "nginx" / "escrouter.conf").read_text()
    for old, new in (
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{app_port};"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", ""),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("/etc/letsencrypt/live/router.example.org/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/router.example.org/privkey.pem", str(private)),
    ):
        assert old in site, old
        site = site.replace(old, new)
    (tmp_path / "escrouter.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"daemon off; user root; worker_processes 1; pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/nginx-error.log;\nevents {{}}\n"
        f"http {{ access_log off; client_body_temp_path {tmp_path}/body; "
        f"proxy_temp_path {tmp_path}/proxy;\n include {tmp_path}/escrouter.conf; }}\n"
    )
    nginx = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{app_port}", gunicorn, why_not=log.read_text)
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{http_port}/", timeout=2)
                break
            except httpx.TransportError:
                assert nginx.poll() is None, nginx.stderr.read().decode()
                assert time.monotonic() < deadline, "nginx did not answer"
                time.sleep(0.1)
        yield {"https": f"https://127.0.0.1:{https_port}", "http": f"http://127.0.0.1:{http_port}",
               "key": key, "escn": escn, "cert": str(cert), "log": log}
    finally:
        nginx.terminate()
        gunicorn.terminate()
        nginx.wait(timeout=30)
        gunicorn.wait(timeout=30)


def _client(site: dict, address: str) -> httpx.Client:
    """An HTTPS client whose connections come from ``address`` (another loopback address)."""
    trusted = ssl.create_default_context(cafile=site["cert"])
    transport = httpx.HTTPTransport(local_address=address, verify=trusted)
    return httpx.Client(base_url=site["https"], transport=transport, timeout=10)


@pytest.mark.e2e
def test_nginx_example_serves_the_router_over_tls(behind_nginx: dict) -> None:
    site = behind_nginx
    moved = httpx.get(f"{site['http']}/docs", timeout=10)
    assert moved.status_code == 301 and moved.headers["Location"].startswith("https://")
    with _client(site, "127.0.0.2") as student, _client(site, "127.0.0.3") as other:
        # The `api_key` header (an underscore) reaches the router.
        assert student.get("/api/v2/persons", headers={"api_key": site["key"]}).status_code == 200
        # The anonymous limit counts each client, not nginx: 2 per hour for 127.0.0.2...
        status = f"/api/v2/cards/{site['escn']}/status"
        assert [student.get(status).status_code for _ in range(3)] == [200, 200, 429]
        # ...while 127.0.0.3, behind the same proxy, still has its own budget.
        assert other.get(status).status_code == 200
        # A client cannot pretend to be someone else: nginx replaces X-Forwarded-For.
        spoofed = student.get(status, headers={"X-Forwarded-For": "198.51.100.9"})
        assert spoofed.status_code == 429
        echoed = other.get("/", headers={"X-Request-Id": "edge-42", "Accept": "application/json"})
        assert echoed.headers["X-Request-Id"] == "edge-42"
        assert len(other.get("/").headers["X-Request-Id"]) == 32  # nginx's own id
        assert other.get("/metrics").status_code == 404
