"""The HTTP client over a real socket: its own auth headers are what goes out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from worker.transport import HttpClient


def test_a_netrc_entry_for_the_host_does_not_replace_the_workers_auth(
    wire_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password not-the-key\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client = HttpClient(timeout_s=5, connect_timeout_s=2)

    client.request(
        "POST",
        f"{wire_server.url}/v1/chat/completions",
        headers={"Authorization": "Bearer sk-the-configured-key"},
        json_body={"messages": []},
    )

    assert wire_server.last.headers["authorization"] == "Bearer sk-the-configured-key"
