"""--block-network keeps the run on this machine: real hosts are refused, loopback still works."""

from __future__ import annotations

import pytest

PROBE = '''
import socket, pytest

def test_a_real_host_is_refused():
    with pytest.raises(RuntimeError, match="Network is disabled"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)

def test_loopback_still_answers():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    socket.create_connection(server.getsockname(), timeout=1).close()
    server.close()
'''


def test_block_network_refuses_real_hosts_and_allows_loopback(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_probe=PROBE)
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "--block-network")
    result.assert_outcomes(passed=2)
