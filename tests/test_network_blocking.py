"""--block-network keeps the run on this machine: real hosts are refused, loopback still works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_block_network_refuses_real_hosts_and_allows_loopback(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--block-network",
                             str(tmp_path / "test_probe.py")], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
