"""AlpacaServer: focusers, HTTP, discovery and mDNS as one unit.

Start order: bind the HTTP port first (so a port in use fails before anything else has begun),
start the focusers (each keeps trying to reach its motor in the background, so a focuser that is
not powered yet never stops the server), serve HTTP, then announce the server by discovery and
mDNS. Stop runs the other way: stop accepting requests, withdraw the announcements, let requests
in flight finish, then stop polling and close the ports.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import logging
import socket
import threading
import uuid
from pathlib import Path
from typing import Any

import waitress
from waitress import wasyncore

from . import (
    __version__,
    simulator,  # noqa: F401  (importing it registers the port URL sim://)
)
from .alpaca.app import create_app
from .alpaca.guard import SERVER_LIMITS, GuardSettings, RequestGuard
from .alpaca.management import ServerInfo
from .alpaca.served import ServedDevice, serve
from .alpaca.socket_guard import SocketGuard
from .alpaca.socket_guard import install as install_socket_guard
from .celestron.sharing import stop_all as stop_sharing
from .config import ConfigError, ConfigFile
from .config import locations as config_locations
from .device import CelestronFocuser
from .device.history import MoveHistory
from .device.journal import MotionJournal
from .network import mdns
from .network.responder import DiscoveryResponder, DiscoveryUnavailable
from .safe_text import install_log_escaping
from .settings import FocuserSettings, Settings, file_stem
from .temperature.assembly import create_service
from .temperature.service import TemperatureService

log = logging.getLogger(__name__)

STOP_WAIT_S = 5.0


class ServerError(Exception):
    """The server cannot start; the message is one line that says why and what to do."""


class AlpacaServer:
    """The whole server in one object, so tests can run it in-process on a free port."""

    def __init__(self, settings: Settings, config_file: ConfigFile | None = None, new_config: Path | None = None) -> None:
        install_log_escaping()  # a name or port a client sent can never start a line of its own in the log
        self.settings = settings
        self.config_file = config_file
        self.new_config = new_config  # where to create a file when a client changes a setting and there is none
        self._new_config_lock = threading.Lock()
        self.focusers: list[CelestronFocuser] = []
        self.temperatures: list[TemperatureService | None] = []
        self.served: list[ServedDevice] = []
        self.info = ServerInfo(settings.server.name, settings.server.location, bind=settings.server.bind)
        self._http: Any = None
        self.socket_guard: SocketGuard | None = None  # each address's connections, once serving
        self._http_thread: threading.Thread | None = None
        self._discovery: DiscoveryResponder | None = None
        self._mdns: mdns.MdnsAdvertiser | None = None

    @property
    def http_port(self) -> int:
        """The port actually bound (the configured one, or the free one picked for port 0)."""
        return int(self._http.effective_port) if self._http is not None else self.settings.server.http_port

    @property
    def url(self) -> str:
        """A base URL that reaches this server from this computer."""
        return f"http://{_url_host(local_address(self.settings.server.bind))}:{self.http_port}"

    def start(self) -> None:
        server = self.settings.server
        self.focusers = [self._make_focuser(index, fs) for index, fs in enumerate(self.settings.focusers)]
        self.temperatures = [self._make_temperature(index, focuser) for index, focuser in enumerate(self.focusers)]
        self.served = serve("focuser", list(self.focusers), self.temperatures)
        app = create_app({"focuser": self.served}, self.info, RequestGuard(GuardSettings(server.password_hash, server.password_for_api)))
        try:
            self._http = waitress.create_server(
                app, host=server.bind, port=server.http_port, threads=server.threads, ident=f"alpaca-focuser/{__version__}", **SERVER_LIMITS
            )
        except OSError as error:
            raise ServerError(_bind_failure(server.bind, server.http_port, error)) from None
        except ValueError as error:
            raise ServerError(f"Cannot serve HTTP on {server.bind!r}: {error}. Give an address of this computer with --bind.") from None
        self.socket_guard = install_socket_guard(self._http)
        self.info.http_port = self.http_port
        self.info.addresses = lambda: [f"http://{_url_host(address)}:{self.http_port}/" for address in listening_addresses(server.bind)]
        for focuser in self.focusers:
            focuser.start()
        for temperature in self.temperatures:
            if temperature is not None:
                temperature.start()
        self._http_thread = threading.Thread(target=self._http.run, name="http", daemon=True)
        self._http_thread.start()
        log.info("Alpaca API on %s (%d focuser%s), setup page %s/setup", self.url, len(self.focusers), "" if len(self.focusers) == 1 else "s", self.url)
        self._start_discovery()
        self._start_mdns()

    def stop(self) -> None:
        """Stop every focuser's motor first (each waits up to about 2 s for its stop to be
        confirmed), then the network services. Temperature compensation stops before them, so it
        cannot start a move on a focuser that is closing."""
        for temperature in self.temperatures:
            if temperature is not None:
                temperature.close()
        for focuser in self.focusers:
            focuser.close()
        stop_sharing()  # after the focusers: their last stop went through the shared port
        if self._http is not None:
            self._run_in_http_loop(lambda: wasyncore.dispatcher.close(self._http))
        if self._discovery is not None:
            self._discovery.stop()
            self._discovery = None
        if self._mdns is not None:
            self._mdns.stop()
            self._mdns = None
        if self._http is not None:
            self._http.task_dispatcher.shutdown(timeout=STOP_WAIT_S)
            self._run_in_http_loop(lambda: wasyncore.close_all(self._http._map, ignore_all=True))
            if self._http_thread is not None:
                self._http_thread.join(STOP_WAIT_S)
            self._http = self._http_thread = None
        log.info("Server stopped")

    def _make_focuser(self, index: int, settings: FocuserSettings) -> CelestronFocuser:
        if not settings.unique_id:
            settings.unique_id = _machine_unique_id(index, settings)
        if self.config_file is None and self.new_config is None:
            return CelestronFocuser(settings)  # embedded without a file: the caller chose memory only
        folder = self.config_file.path.parent if self.config_file is not None else self.new_config.parent if self.new_config else None
        journal = MotionJournal(folder / f"motion-{file_stem(settings.unique_id)}.json") if folder is not None and folder.is_dir() else None
        history = MoveHistory(folder / f"moves-{file_stem(settings.unique_id)}.jsonl" if folder is not None and folder.is_dir() else None)
        return CelestronFocuser(settings, save=functools.partial(self._save_focuser, index), journal=journal, history=history)

    def _save_focuser(self, index: int, focuser: FocuserSettings) -> None:
        """Save a setting a client changed; without a file, create one in the usual place first,
        so a change is never answered with success and then lost at the next start."""
        with self._new_config_lock:
            if self.config_file is None and self.new_config is not None:
                self.config_file = config_locations.create_for(self.new_config, self.settings)
                log.info("Created the configuration file %s to keep the settings clients change; the server reads it from the next start", self.new_config)
        config_file = self.config_file
        if config_file is None or index >= len(config_file.settings.focusers):
            where = config_file.path if config_file is not None else "a configuration file"
            raise ConfigError(f"focuser {index + 1} was added with --port and has no [[focuser]] table in {where}; add one there to keep its settings")
        config_file.save_focuser(index, focuser)

    def _make_temperature(self, index: int, focuser: CelestronFocuser) -> TemperatureService | None:
        """The focuser's temperature source and compensation, when it has a ``temperature`` setting;
        its focus log sits beside the configuration file and a learnt coefficient is saved in it."""
        settings = self.settings.focusers[index]
        folder = self.config_file.path.parent if self.config_file is not None else None
        saves = self.config_file is not None or self.new_config is not None
        save = (lambda steps_per_c: self._save_coefficient(index, steps_per_c)) if saves else None
        service = create_service(focuser, settings, log_folder=folder, save_coefficient=save)
        if service is not None:
            focuser.history.temperature = lambda: service.health().celsius  # each move is recorded with the temperature
        return service

    def _save_coefficient(self, index: int, steps_per_c: float) -> None:
        config_file = self.config_file
        if config_file is None or index >= len(config_file.settings.focusers):
            where = config_file.path if config_file is not None else "a configuration file"
            raise ConfigError(f"focuser {index + 1} has no [[focuser]] table in {where} to keep tempcomp_steps_per_c in; add one")
        config_file.save_tempcomp_coefficient(index, steps_per_c)

    def _run_in_http_loop(self, action: Any) -> None:
        """Run ``action`` in waitress's own loop thread, which alone may close its sockets."""
        done = threading.Event()

        def thunk() -> None:
            try:
                action()
            finally:
                done.set()

        if self._http_thread is not None and self._http_thread.is_alive():
            try:
                self._http.trigger.pull_trigger(thunk)
            except OSError:  # the loop closed its trigger on its way out: nobody else uses the sockets now
                thunk()
            done.wait(STOP_WAIT_S)
        else:
            thunk()

    def _start_discovery(self) -> None:
        server = self.settings.server
        if not server.discovery:
            log.info("Alpaca discovery is off")
            return
        responder = DiscoveryResponder(self.http_port, port=server.discovery_port, bind=server.bind)
        try:
            responder.start()
        except DiscoveryUnavailable as error:
            log.error("Alpaca discovery is not running: %s. Clients can still connect to %s", error, self.url)
            return
        self._discovery = responder
        self.info.discovery_port = server.discovery_port
        log.info("Answering Alpaca discovery on UDP port %d", server.discovery_port)

    def _start_mdns(self) -> None:
        server = self.settings.server
        if not server.mdns:
            return
        advertiser = mdns.MdnsAdvertiser(server.name, self.http_port, server.bind, devices=len(self.focusers))
        try:
            advertiser.start()
        except Exception as error:
            log.warning("mDNS advertisement could not start (%s); the server runs on without it", error)
            return
        self._mdns = advertiser
        self.info.mdns = True


def _machine_unique_id(index: int, settings: FocuserSettings) -> str:
    """A UniqueID for a focuser with no configuration file to keep one in: the same at every start
    on this computer, different for each focuser and computer."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"alpaca-focuser://{socket.gethostname()}/focuser/{index}/{settings.port}"))


def _bind_failure(bind: str, port: int, error: OSError) -> str:
    reason = error.strerror or str(error)
    if error.errno == errno.EADDRINUSE:
        return (
            f"HTTP port {port} on {bind} is already in use ({reason}): another program, perhaps another "
            "alpaca-focuser, serves there. Stop it, or choose another port with --http-port or http_port in [server]."
        )
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"Not allowed to listen on HTTP port {port} ({reason}): ports below 1024 need privileges; use a port such as 11111."
    return f"Cannot serve HTTP on {bind}:{port} ({reason}). Check --bind: it must be an address of this computer, 0.0.0.0 or ::."


def local_address(bind: str) -> str:
    """The address this computer reaches a server bound to ``bind`` on."""
    if bind in ("", "0.0.0.0"):
        return "127.0.0.1"
    if bind == "::":
        return "::1"
    return bind


def listening_addresses(bind: str) -> list[str]:
    if bind in mdns.ANY_ADDRESSES:
        return [local_address(bind), *(address for address in mdns.advertised_addresses(bind) if address != "127.0.0.1")]
    return [bind]


def _url_host(address: str) -> str:
    try:
        return f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    except ValueError:
        return address
