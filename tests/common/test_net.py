"""common.net: free loopback ports for the servers tests and launchers start."""

import socket

from common import net


def test_free_ports_are_distinct_and_bindable():
    ports = net.free_ports(5)
    assert len(set(ports)) == 5
    sockets = [socket.create_server((net.LOOPBACK, port)) for port in ports]
    for s in sockets:
        s.close()
