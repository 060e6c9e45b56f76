"""Which pages may open the websockets of ``cc-backend serve``."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from cc_backend.config import load_config
from cc_backend.server import websocket_origins


def test_loopback_names_and_the_listening_host(api_site: Path) -> None:
    config = load_config(api_site / "config.json")
    assert websocket_origins("127.0.0.1", 8080, config) == ["127.0.0.1:8080", "localhost:8080"]
    assert "cc.example.org:8443" in websocket_origins("cc.example.org", 8443, config)


def test_every_interface_adds_the_machines_name(api_site: Path) -> None:
    config = load_config(api_site / "config.json")
    origins = websocket_origins("0.0.0.0", 80, config)
    assert f"{socket.gethostname()}:80" in origins
    assert not any(o.startswith("0.0.0.0") for o in origins)


def test_the_public_host_of_the_https_redirect_is_allowed(api_site: Path) -> None:
    path = api_site / "config.json"
    data = json.loads(path.read_text())
    data["main"]["redirect-http-to"] = "https://cc.example.org"
    path.write_text(json.dumps(data))
    assert "cc.example.org" in websocket_origins("127.0.0.1", 8080, load_config(path))
