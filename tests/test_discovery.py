"""The Alpaca UDP discovery responder, over real sockets on loopback.

Anything that probes every interface (alpyca's search) runs in a network namespace of its own,
which has nothing but loopback.
"""

from __future__ import annotations

import json
import random
import select
import shlex
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from conftest import IN_CI, free_port, require_tool, wait_for

from alpaca_focuser.network.responder import DiscoveryResponder, DiscoveryUnavailable, ReplyLimiter, SourcePolicy

PROBE = b"alpacadiscovery1"
TESTS_DIR = Path(__file__).resolve().parent


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def client_socket(family: int = socket.AF_INET) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.settimeout(5)
    return sock


def has_datagram(sock: socket.socket, wait_s: float) -> bool:
    return bool(select.select([sock], [], [], wait_s)[0])


@pytest.fixture
def discovery_port() -> int:
    return free_port(socket.SOCK_DGRAM)


@pytest.fixture
def responder(discovery_port: int) -> Iterator[DiscoveryResponder]:
    server = DiscoveryResponder(http_port=11123, port=discovery_port, bind="127.0.0.1")
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("destination", ["127.0.0.1", "127.255.255.255"])
def test_a_probe_gets_the_http_port_back_by_unicast_from_the_discovery_port(responder, discovery_port, destination):
    with client_socket() as client:
        client.sendto(PROBE, (destination, discovery_port))
        reply, sender = client.recvfrom(1024)
    assert reply == b'{"AlpacaPort":11123}'
    assert sender == ("127.0.0.1", discovery_port)


def test_a_probe_padded_after_the_message_is_answered(responder, discovery_port):
    with client_socket() as client:
        client.sendto(PROBE + b"\x00\x00 padding", ("127.0.0.1", discovery_port))
        assert json.loads(client.recvfrom(1024)[0]) == {"AlpacaPort": 11123}


@pytest.mark.skipif(not ipv6_loopback_available(), reason="this machine has no IPv6 loopback (::1)")
def test_an_ipv6_probe_to_loopback_is_answered_from_loopback():
    port = free_port(socket.SOCK_DGRAM)
    server = DiscoveryResponder(http_port=11124, port=port, bind="::1")
    server.start()
    try:
        with client_socket(socket.AF_INET6) as client:
            client.sendto(PROBE, ("::1", port))
            reply, sender = client.recvfrom(1024)
    finally:
        server.stop()
    assert reply == b'{"AlpacaPort":11124}'
    assert sender[:2] == ("::1", port)


GARBAGE = [
    b"",
    b"alpacadiscovery",
    b"ALPACADISCOVERY1",
    b"alpacadiscovery2",
    random.Random(7).randbytes(300),
    b'{"AlpacaPort":11123}',
    json.dumps({"alpacadiscovery": 1}).encode(),
]


def test_garbage_gets_no_reply_and_the_responder_keeps_answering(responder, discovery_port):
    """Datagrams are handled in arrival order, so once the probe sent after the garbage is answered,
    any reply to the garbage would already be waiting."""
    with client_socket() as junk_sender, client_socket() as prober:
        for datagram in GARBAGE:
            junk_sender.sendto(datagram, ("127.0.0.1", discovery_port))
        prober.sendto(PROBE, ("127.0.0.1", discovery_port))
        assert prober.recvfrom(1024)[0] == b'{"AlpacaPort":11123}'
        assert not has_datagram(junk_sender, 0.2), junk_sender.recvfrom(1024)


def test_two_servers_share_the_port_and_both_answer_a_broadcast(discovery_port):
    first = DiscoveryResponder(http_port=11131, port=discovery_port, bind="127.0.0.1")
    second = DiscoveryResponder(http_port=11132, port=discovery_port, bind="127.0.0.1")
    first.start()
    second.start()
    try:
        replies: set[bytes] = set()
        with client_socket() as client:
            client.sendto(PROBE, ("127.255.255.255", discovery_port))

            def both_answered() -> bool:
                replies.add(client.recvfrom(1024)[0])
                return len(replies) == 2

            wait_for(both_answered, what="a reply from each server")
        assert replies == {b'{"AlpacaPort":11131}', b'{"AlpacaPort":11132}'}
    finally:
        first.stop()
        second.stop()


def test_a_server_bound_elsewhere_ignores_probes_from_loopback(discovery_port):
    """A client told to connect to 127.0.0.1 could not reach a server bound to another address."""
    elsewhere = DiscoveryResponder(http_port=11141, port=discovery_port, bind="192.0.2.10", ipv6=False)
    local = DiscoveryResponder(http_port=11142, port=discovery_port, bind="127.0.0.1")
    elsewhere.start()
    local.start()
    try:
        with client_socket() as client:
            client.sendto(PROBE, ("127.255.255.255", discovery_port))
            assert client.recvfrom(1024)[0] == b'{"AlpacaPort":11142}'
            assert not has_datagram(client, 0.2), client.recvfrom(1024)
    finally:
        elsewhere.stop()
        local.stop()


def test_stop_releases_the_port_and_is_safe_twice(discovery_port):
    server = DiscoveryResponder(http_port=11151, port=discovery_port, bind="127.0.0.1")
    server.start()
    server.stop()
    server.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as exclusive:
        exclusive.bind(("0.0.0.0", discovery_port))


def test_a_port_held_without_sharing_gives_a_clear_error(discovery_port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("0.0.0.0", discovery_port))
        server = DiscoveryResponder(http_port=11161, port=discovery_port, bind="127.0.0.1")
        with pytest.raises(DiscoveryUnavailable, match=f"UDP port {discovery_port}.*discovery_port"):
            server.start()
        server.stop()


def test_an_unresolvable_bind_address_is_refused_with_advice():
    with pytest.raises(DiscoveryUnavailable, match="bind address 'no-such-host.invalid'.*127.0.0.1"):
        DiscoveryResponder(http_port=11171, bind="no-such-host.invalid")


@pytest.mark.parametrize(("bind", "source", "answered"), [
    ("0.0.0.0", "192.0.2.7", True),
    ("::", "2001:db8::7", True),
    ("127.0.0.1", "127.0.0.1", True),
    ("127.0.0.1", "192.0.2.7", False),
    ("::1", "::1", True),
    ("::1", "fe80::1%eth0", False),
    ("localhost", "127.0.0.1", True),
    ("192.0.2.10", "127.0.0.1", False),
    ("192.0.2.10", "192.0.2.10", True),
])
def test_whom_a_server_answers_follows_its_bind_address(bind, source, answered):
    assert SourcePolicy.for_bind(bind).allows(source) is answered


@pytest.mark.parametrize(("bind", "versions"), [
    ("0.0.0.0", {4}), ("", {4}), ("::", {4, 6}), ("127.0.0.1", {4}), ("::1", {6}),
])
def test_ipv6_is_answered_only_when_the_http_server_listens_on_ipv6(bind, versions):
    policy = SourcePolicy.for_bind(bind)
    assert {version for version in (4, 6) if policy.serves(version)} == versions


def test_a_flood_of_probes_from_one_address_is_cut_to_the_refill_rate():
    now = [0.0]
    limiter = ReplyLimiter(rate=2.0, burst=3.0, clock=lambda: now[0])
    assert [limiter.allow("192.0.2.1") for _ in range(5)] == [True, True, True, False, False]
    assert limiter.allow("192.0.2.2"), "another client is not punished"
    now[0] += 0.5
    assert [limiter.allow("192.0.2.1") for _ in range(2)] == [True, False]


# --- Probing every interface: only inside a network namespace that has nothing but loopback. ---

@cache
def net_namespace_prefix() -> tuple[str, ...] | None:
    """How to enter a fresh network namespace here: as root, or as a user through a user namespace."""
    for prefix in (("unshare", "--net"), ("unshare", "--user", "--map-root-user", "--net")):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return None


LOOPBACK_ONLY = "ip link set lo up"
# A veth pair has what loopback lacks for IPv6 discovery: link-local addresses and multicast.
WITH_VETH_PAIR = (LOOPBACK_ONLY + " && ip link add v0 type veth peer name v1"
                  " && sysctl -qw net.ipv6.conf.v0.accept_dad=0 net.ipv6.conf.v1.accept_dad=0"
                  " && ip link set v0 up && ip link set v1 up")


def run_in_net_namespace(script: str, setup: str = LOOPBACK_ONLY,
                         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a Python script with this interpreter in a new network namespace set up by ``setup``."""
    require_tool("unshare", "util-linux")
    require_tool("ip", "iproute2")
    prefix = net_namespace_prefix()
    if prefix is None:
        message = "cannot create a network namespace here (unshare --net failed)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    code = f"import sys; sys.path.insert(0, {str(TESTS_DIR)!r})\n" + textwrap.dedent(script)
    shell = f"{setup} && exec {shlex.quote(sys.executable)} -c {shlex.quote(code)}"
    result = subprocess.run([*prefix, "sh", "-c", shell], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def test_alpyca_finds_the_server_on_the_real_discovery_port():
    result = run_in_net_namespace("""
        import json
        from alpaca import discovery
        from alpaca_focuser.network.responder import DiscoveryResponder
        responder = DiscoveryResponder(http_port=11181)
        responder.start()
        try:
            print(json.dumps(discovery.search_ipv4(numquery=1, timeout=1)))
        finally:
            responder.stop()
    """)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["127.0.0.1:11181"]


WAIT_FOR_LINK_LOCAL = """
    import socket, time, ifaddr
    def link_local(name):
        for adapter in ifaddr.get_adapters():
            for ip in adapter.ips:
                if adapter.nice_name == name and not isinstance(ip.ip, str) and ip.ip[0].startswith("fe80"):
                    return ip.ip[0], socket.if_nametoindex(name)
    deadline = time.monotonic() + 10
    while not (link_local("v0") and link_local("v1")):
        assert time.monotonic() < deadline, "the veth pair got no link-local addresses"
        time.sleep(0.01)
"""


def test_an_ipv6_group_probe_is_answered_by_unicast_from_the_interface_address():
    result = run_in_net_namespace(WAIT_FOR_LINK_LOCAL + """
    import json
    from alpaca_focuser.network.responder import DiscoveryResponder, IPV6_GROUP
    responder = DiscoveryResponder(http_port=11191, bind="::")
    responder.start()
    try:
        address, index = link_local("v0")
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.sendto(b"alpacadiscovery1", (IPV6_GROUP, 32227, 0, index))
            reply, sender = client.recvfrom(1024)
        print(json.dumps([reply.decode(), sender[0].split("%")[0], sender[1], address]))
    finally:
        responder.stop()
    """, setup=WITH_VETH_PAIR)
    reply, source, source_port, v0_address = json.loads(result.stdout.strip().splitlines()[-1])
    assert reply == '{"AlpacaPort":11191}'
    assert (source, source_port) == (v0_address, 32227)


def test_alpyca_finds_the_server_over_ipv6_on_each_link():
    """The namespace is one host whose two interfaces are cabled to each other."""
    result = run_in_net_namespace(WAIT_FOR_LINK_LOCAL + """
    import json
    from alpaca import discovery
    from alpaca_focuser.network.responder import DiscoveryResponder
    responder = DiscoveryResponder(http_port=11192, bind="::")
    responder.start()
    try:
        found = discovery.search_ipv6(numquery=1, timeout=1)
    finally:
        responder.stop()
    # Each link's probe is answered from a link-local address of the host; which interface's
    # address answers which probe is the kernel's routing choice, so only the set is compared.
    expected = [link_local("v0")[0], link_local("v1")[0]]
    print(json.dumps([found, expected]))
    """, setup=WITH_VETH_PAIR)
    found, expected = json.loads(result.stdout.strip().splitlines()[-1])
    link_local_found = {entry.split("%")[0].lstrip("[") for entry in found if entry.startswith("[fe80")}
    assert all(entry.endswith("]:11192") for entry in found)
    assert link_local_found == set(expected)
