"""The client over mutual TLS, as against a kind/minikube cluster: kubeconfig CA, client cert and key."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from localkube.client import ApiClient, ApiError, load_connection


@dataclass(frozen=True)
class Pki:
    ca_pem: bytes
    server_cert: bytes
    server_key: bytes
    client_cert: bytes
    client_key: bytes


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> bytes:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False)
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki() -> Pki:
    ca_key, server_key, client_key = _key(), _key(), _key()
    return Pki(
        ca_pem=_cert("test-ca", ca_key, "test-ca", ca_key, ca=True),
        server_cert=_cert("apiserver", server_key, "test-ca", ca_key, server=True),
        server_key=_pem_key(server_key),
        client_cert=_cert("admin", client_key, "test-ca", ca_key),
        client_key=_pem_key(client_key),
    )


@pytest.fixture
async def mtls_server(pki: Pki, tmp_path: Path) -> AsyncIterator[str]:
    """An HTTPS server on 127.0.0.1 that demands a client certificate signed by the test CA."""
    (tmp_path / "server.crt").write_bytes(pki.server_cert)
    (tmp_path / "server.key").write_bytes(pki.server_key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=pki.ca_pem.decode())
    context.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    context.verify_mode = ssl.CERT_REQUIRED

    async def version(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        subject = dict(item[0] for item in (peer or {}).get("subject", ()))
        return web.json_response({"major": "1", "minor": "32", "user": subject.get("commonName")})

    app = web.Application()
    app.router.add_get("/version", version)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    try:
        yield f"https://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def _kubeconfig(path: Path, server: str, cluster: dict[str, object], user: dict[str, object]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "clusters": [{"name": "c", "cluster": {"server": server, **cluster}}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_client_certificate_data_authenticates(pki: Pki, mtls_server: str, tmp_path: Path) -> None:
    path = _kubeconfig(
        tmp_path / "kc",
        mtls_server,
        {"certificate-authority-data": _b64(pki.ca_pem)},
        {"client-certificate-data": _b64(pki.client_cert), "client-key-data": _b64(pki.client_key)},
    )
    async with ApiClient(load_connection(path, environ={})) as client:
        assert (await client.version())["user"] == "admin"


async def test_client_certificate_files_relative_to_the_kubeconfig(
    pki: Pki, mtls_server: str, tmp_path: Path
) -> None:
    (tmp_path / "ca.crt").write_bytes(pki.ca_pem)
    (tmp_path / "admin.crt").write_bytes(pki.client_cert)
    (tmp_path / "admin.key").write_bytes(pki.client_key)
    path = _kubeconfig(
        tmp_path / "kc",
        mtls_server,
        {"certificate-authority": "ca.crt"},
        {"client-certificate": "admin.crt", "client-key": "admin.key"},
    )
    async with ApiClient(load_connection(path, environ={})) as client:
        assert (await client.version())["user"] == "admin"


async def test_an_unknown_server_certificate_is_refused(pki: Pki, mtls_server: str, tmp_path: Path) -> None:
    other_ca = _key()
    stranger = _cert("other-ca", other_ca, "other-ca", other_ca, ca=True)
    path = _kubeconfig(
        tmp_path / "kc",
        mtls_server,
        {"certificate-authority-data": _b64(stranger)},
        {"client-certificate-data": _b64(pki.client_cert), "client-key-data": _b64(pki.client_key)},
    )
    async with ApiClient(load_connection(path, environ={})) as client:
        with pytest.raises((aiohttp.ClientError, ApiError)):
            await client.version()
