"""X-Forwarded-For names the client only behind a proxy named in --trusted-proxies: otherwise any
client could pick its own rate-limit bucket with the header and guess tokens without limit."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from athena_mcp.settings import Settings
from tests.http_rpc import MCP_HEADERS, listening
from tests.stdio_server import free_port, http_server

TOKEN = "s3cret-token-for-the-tests"
LIMITS = ("--http-token", TOKEN, "--http-burst", "5", "--http-rate", "0.01")


async def statuses(port: int, forwarded_for: list[str]) -> list[int]:
    """The statuses of wrong-token requests, one per X-Forwarded-For value."""
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as raw:
        await listening(raw)
        found = []
        for address in forwarded_for:
            headers = {**MCP_HEADERS, "Authorization": "Bearer wrong-token-guess", "X-Forwarded-For": address}
            found.append((await raw.post("/mcp", content=b"{}", headers=headers)).status_code)
        return found


@pytest.mark.slow
async def test_x_forwarded_for_from_an_untrusted_client_does_not_escape_the_rate_limit(tmp_path: Path):
    port = free_port()
    rotating = [f"203.0.113.{n}" for n in range(1, 41)]
    async with http_server(tmp_path / "a.db", port, *LIMITS):
        found = await statuses(port, rotating)
    # The connecting address (loopback) is the client: the 6th guess on is over its burst.
    assert found[:4] == [401] * 4 and found.count(429) >= 30, found


@pytest.mark.slow
async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(tmp_path: Path):
    port = free_port()
    async with http_server(tmp_path / "a.db", port, *LIMITS, "--trusted-proxies", "127.0.0.1,::1"):
        assert set(await statuses(port, [f"203.0.113.{n}" for n in range(1, 21)])) == {401}
        assert 429 in await statuses(port, ["198.51.100.7"] * 10)


def test_trusted_proxies_must_be_addresses_or_networks():
    assert Settings.load({"trusted_proxies": "10.0.0.0/8, 127.0.0.1"}, {}).trusted_proxies == (
        "10.0.0.0/8",
        "127.0.0.1",
    )
    with pytest.raises(ValueError, match=r"trusted_proxies: 'proxy\.example' is not an IP address"):
        Settings.load({"trusted_proxies": "proxy.example"}, {})
