"""Network checks shared by the services' health probes."""
from __future__ import annotations

import json
import socket
import urllib.request

# The probes only talk to local services: an http_proxy in the environment must not get in between.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def port_open(host: str, port: int, timeout_s: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def get_json(url: str, timeout_s: float = 2.0) -> dict | None:
    """The JSON body of a successful GET, or None when the server is unreachable or answers an error."""
    try:
        with _DIRECT.open(url, timeout=timeout_s) as response:
            return json.load(response)
    except (OSError, ValueError):  # URLError and HTTPError are OSErrors; ValueError: not JSON
        return None
