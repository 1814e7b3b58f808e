"""Advertise the server over mDNS/DNS-SD, so a browser or a Bonjour browser finds it by name.

This is a private extension: Alpaca clients find servers by UDP discovery (discovery.py), and no
ASCOM specification defines an mDNS service type. We announce two services:

* ``_alpaca._tcp.local.``: the Alpaca server, TXT ``api=/api/v1``, ``setup=/setup``, ``devices=N``;
* ``_http._tcp.local.``: its setup page, TXT ``path=/setup`` (the key browsers understand).

Only the interfaces the HTTP server listens on are used: announcing a server bound to 127.0.0.1 on
the LAN would send people to an address they cannot reach. Advertising is a convenience, so any
failure is logged as a warning and the server runs on without it. Registration probes the network
for name conflicts, which takes a second or two, so it runs in the background.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Sized

import ifaddr
from zeroconf import InterfaceChoice, IPVersion, ServiceInfo, Zeroconf

log = logging.getLogger(__name__)

ALPACA_SERVICE = "_alpaca._tcp.local."
HTTP_SERVICE = "_http._tcp.local."
API_PATH = "/api/v1"
SETUP_PATH = "/setup"
ANY_ADDRESSES = ("", "0.0.0.0", "::")
MAX_LABEL_BYTES = 63


def instance_label(name: str) -> str:
    """A DNS-SD instance name: at most 63 bytes of UTF-8, cut on a character boundary."""
    label = name.strip() or "Alpaca Focuser Server"
    return label.encode()[:MAX_LABEL_BYTES].decode(errors="ignore").rstrip()


def host_name() -> str:
    return socket.gethostname().split(".")[0] + ".local."


def advertised_addresses(bind: str) -> list[str]:
    """The addresses put in the A/AAAA records: the bound one, or every usable one of its family."""
    if bind not in ANY_ADDRESSES:
        return [bind]
    wanted_versions = {4, 6} if bind == "::" else {4}
    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            text = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            address = ipaddress.ip_address(text)
            if address.version in wanted_versions and not address.is_loopback and not address.is_link_local:
                found.append(str(address))
    return found or ["127.0.0.1"]


def zeroconf_for(bind: str) -> Zeroconf:
    """A Zeroconf instance that only uses the interfaces the HTTP server listens on."""
    if bind == "::":
        return Zeroconf(interfaces=InterfaceChoice.All, ip_version=IPVersion.All)
    if bind in ANY_ADDRESSES:
        return Zeroconf(interfaces=InterfaceChoice.All, ip_version=IPVersion.V4Only)
    return Zeroconf(interfaces=[bind])


class MdnsAdvertiser:
    """Announces the server and its setup page while running; withdraws them on stop."""

    def __init__(self, name: str, http_port: int, bind: str, devices: Sized | int = 1) -> None:
        self.name = instance_label(name)
        self.http_port = http_port
        self.bind = bind
        self.device_count = devices if isinstance(devices, int) else len(devices)
        self._zeroconf: Zeroconf | None = None
        self._services: list[ServiceInfo] = []
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()

    @property
    def advertising(self) -> bool:
        return bool(self._services)

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._done.clear()
            self._thread = threading.Thread(target=self._register, name="mdns-advertiser", daemon=True)
            self._thread.start()

    def wait(self, timeout: float) -> bool:
        """Wait until registration has finished; True when the services are being advertised."""
        self._done.wait(timeout)
        return self.advertising

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            thread.join()
            zc, services = self._zeroconf, self._services
            self._zeroconf, self._services = None, []
            if zc is None:
                return
            try:
                for info in services:
                    zc.unregister_service(info)
            except Exception as error:
                log.warning("could not withdraw the mDNS advertisement cleanly: %s", error)
            finally:
                zc.close()
            log.info("mDNS advertisement withdrawn")

    def service_infos(self) -> list[ServiceInfo]:
        addresses = advertised_addresses(self.bind)
        server = host_name()
        alpaca = ServiceInfo(
            ALPACA_SERVICE,
            f"{self.name}.{ALPACA_SERVICE}",
            port=self.http_port,
            properties={"txtvers": "1", "api": API_PATH, "setup": SETUP_PATH, "devices": str(self.device_count)},
            server=server,
            parsed_addresses=addresses,
        )
        setup = ServiceInfo(
            HTTP_SERVICE,
            f"{self.name}.{HTTP_SERVICE}",
            port=self.http_port,
            properties={"path": SETUP_PATH},
            server=server,
            parsed_addresses=addresses,
        )
        return [alpaca, setup]

    def _register(self) -> None:
        zc = None
        try:
            zc = zeroconf_for(self.bind)
            self._zeroconf = zc
            registered = []
            for info in self.service_infos():
                zc.register_service(info, allow_name_change=True)
                registered.append(info)
            self._services = registered
            log.info("mDNS: advertising %r as %s and %s on port %d (%s)", self.name, ALPACA_SERVICE,
                     HTTP_SERVICE, self.http_port, ", ".join(registered[0].parsed_addresses()))
        except Exception as error:
            log.warning("mDNS advertisement on %s failed (%s: %s); the server runs on, and Alpaca clients still "
                        "find it by UDP discovery. Set mdns = false in the [server] table to silence this.",
                        self.bind or "0.0.0.0", type(error).__name__, error)
            self._services = []
            if zc is not None:
                zc.close()
            self._zeroconf = None
        finally:
            self._done.set()
