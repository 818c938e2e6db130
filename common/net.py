"""Loopback ports for the processes this project starts itself (cluster tasks, TensorBoard)."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_ports(n: int = 1) -> list[int]:
    """`n` distinct TCP ports on the loopback interface that were free a moment ago.

    The sockets are held open together, so the ports differ from each other; another
    process may still take one before the caller binds it (acceptable for local runs
    and tests, which start their servers right away).
    """
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
