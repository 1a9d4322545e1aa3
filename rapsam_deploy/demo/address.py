"""Where the page listens: loopback unless told otherwise (the page has no login), on a port
checked free before the model loads, so that a taken port is one clear error, not a traceback
after a minute of loading."""

from __future__ import annotations

import errno
import socket

from ..errors import RapSamError

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7860


def check_port(host: str, port: int) -> None:
    """Refuse a port another program listens on (or an address this machine does not have)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is free
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                fix = "pass another --port, or stop what uses it"
                raise RapSamError(f"port {port} on {host} is in use", fix) from None
            raise RapSamError(f"cannot listen on {host}:{port} ({err.strerror})", "pass another --host") from err
