"""Discovery and management diagnostics (ConformU's Discovery Diagnostics page), and the setup pages.

ConformU broadcasts; this run sends the discovery probe by unicast to the URL's host, so it only
ever talks to the machine under test, and then broadcasts it only on loopback, when the server is
on this machine (``--broadcast`` also probes the whole local network, for use in the field). Each
reply is checked, then the three management calls of the Alpaca device it names: apiversions,
description and configureddevices. The responder's behaviour (discovery_field) and the HTML setup
pages (setup_pages) are checked beyond what ConformU does.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

from . import discovery_field, setup_pages
from .client import Deadline, DeviceUrl, OutOfTime, ReplyFault, ServerUnreachable, Transport, TransportFailure, has_json_kind
from .discovery_probe import DiscoveryProbe
from .options import CheckerOptions
from .report import Report

WHITE_SPACE = b" \t\r\n"
DEVICE_TYPES = (
    "Camera", "CoverCalibrator", "Dome", "FilterWheel", "Focuser", "ObservingConditions",
    "Rotator", "SafetyMonitor", "Switch", "Telescope", "Video",
)


def run_discovery(url: DeviceUrl, options: CheckerOptions, report: Report, deadline: Deadline) -> None:
    DiscoveryRun(url, options, report, deadline).run()


class DiscoveryRun(DiscoveryProbe):
    def run(self) -> None:
        try:
            self.run_checks()
        except OutOfTime as exc:
            self.log.error(
                "Discovery",
                f"The {self.options.total_timeout:g} s limit for the whole check ran out during {exc}; the rest of the "
                "discovery run was not done. Raise the limit with --total-timeout",
            )

    def run_checks(self) -> None:
        try:
            family, _, _, _, sockaddr = socket.getaddrinfo(self.url.host, self.options.discovery_port, type=socket.SOCK_DGRAM)[0]
        except OSError as exc:
            self.log.error("Discovery", f"cannot resolve {self.url.host}: {exc}")
            return
        address = str(sockaddr[0])
        replies = self.probe(address)
        if replies is None:
            return
        servers: list[tuple[str, int]] = []
        if not replies:
            self.log.info(
                "Discovery",
                f"There were no responses to the discovery probe sent to {address} port {self.options.discovery_port} "
                f"within {self.options.discovery_duration:g} s; the management API is checked at the URL's port instead",
            )
            servers.append((self.url.host, self.url.port))
        for data, sender in replies:
            port = self.check_reply(data, sender)
            if port is not None and (sender[0], port) not in servers:
                servers.append((sender[0], port))
        self.broadcast_probe(address, family, bool(replies), servers)
        for host, port in servers:
            try:
                self.check_management(host, port)
            except ServerUnreachable as exc:
                self.log.error("Management", str(exc))
        if replies:
            discovery_field.check_garbage(self, address, family)
            discovery_field.check_port_sharing(self, address, family)
        setup_pages.check_setup_pages(self)

    def broadcast_probe(self, address: str, family: int, answered_unicast: bool, servers: list[tuple[str, int]]) -> None:
        """Probe as clients do; with --broadcast, every other server that answers is checked too."""
        target = discovery_field.broadcast_target(self, address, family)
        if target is None:
            self.log.info("Discovery - Broadcast", "Not checked: the server is on another machine; --broadcast probes the local network")
            return
        mine: Callable[[bytes, tuple[str, int]], bool] = lambda data, sender: discovery_field.from_server_under_test(
            self, address, data, sender
        )
        heard = self.probe(target, broadcast=True, until=None if self.options.broadcast else mine)
        if heard is None:
            return
        if answered_unicast:
            discovery_field.check_broadcast(self, address, target, heard)
        for data, sender in heard if self.options.broadcast else []:
            if not mine(data, sender):
                port = self.check_reply(data, sender)
                if port is not None and (sender[0], port) not in servers:
                    servers.append((sender[0], port))

    def check_reply(self, data: bytes, sender: tuple[str, int]) -> int | None:
        """Check one discovery reply; the AlpacaPort it names, if usable."""
        test = "Discovery reply"
        head = f"from {sender[0]}:{sender[1]}: {data[:120]!r}"
        controls = sorted({b for b in data if b < 0x20 and b not in WHITE_SPACE})
        if controls:
            shown = ", ".join(f"0x{b:02X}" for b in controls)
            self.log.issue(test, f"{head} contains the control characters {shown}, which are illegal in JSON")
        spaces = sum(1 for b in data if b in WHITE_SPACE)
        if spaces:
            self.log.issue(
                test,
                f"{head} contains {spaces} white-space character(s); send the compact form {{\"AlpacaPort\":NNNN}} "
                "(ConformU reports each one as information; this checker counts them as an issue)",
            )
        if b"AlpacaPort" in data:
            self.log.ok(test, f"{head} contains the key AlpacaPort")
        else:
            self.log.issue(test, f"{head} does not contain the exact text AlpacaPort")
        try:
            body = json.loads(data)
        except ValueError as exc:
            self.log.issue(test, f"{head} is not valid JSON ({exc})")
            return None
        port: Any = body.get("AlpacaPort") if isinstance(body, dict) else None
        if has_json_kind(port, int) and 0 < port < 65536:
            self.log.ok(test, f"{head} names the Alpaca port {port}")
            if sender[0] == self.url.host and port != self.url.port:
                self.log.info(test, f"{head} names port {port}, not the port {self.url.port} of the URL under test")
            return int(port)
        self.log.issue(test, f"{head}: reading it with case-sensitive keys gives no AlpacaPort between 1 and 65535")
        if isinstance(body, dict):
            for key, value in body.items():
                if key.lower() == "alpacaport" and has_json_kind(value, int) and 0 < value < 65536:
                    self.log.issue(test, f"{head}: only a case-insensitive reading finds the port ({key!r}); the key must be exactly 'AlpacaPort'")
        return None

    # --- the management API ---------------------------------------------------------------------

    def check_management(self, host: str, port: int) -> None:
        transport = Transport(host, port, self.options.discovery_duration, self.deadline)
        versions = self.fetch(transport, "Management apiversions", "/management/apiversions", list)
        if versions is not None:
            self.check_api_versions(versions)
        description = self.fetch(transport, "Management description", "/management/v1/description", dict)
        if description is not None:
            self.check_description(description)
        devices = self.fetch(transport, "Management devices", "/management/v1/configureddevices", list)
        if devices is not None:
            self.check_configured_devices(devices, (host, port))

    def fetch(self, transport: Transport, test: str, path: str, kind: type) -> Any:
        """The Value of a management reply, read with case-sensitive keys; None after reporting why not."""
        sent = f"GET http://{transport.host}:{transport.port}{path}"
        try:
            reply = transport.request("GET", path, (("ClientID", "1"), ("ClientTransactionID", "1")))
            if reply.status != 200:
                raise ReplyFault(f"{sent} returned HTTP {reply.status} (expected 200): {reply.excerpt()}")
            if not reply.is_json_type:
                raise ReplyFault(f"{sent} returned {reply.content_type or 'no Content-Type header'}; it must be application/json")
            try:
                body = json.loads(reply.body)
            except ValueError as exc:
                raise ReplyFault(f"{sent} returned a body that is not valid JSON ({exc}): {reply.excerpt()}") from None
            if not isinstance(body, dict) or "Value" not in body:
                raise ReplyFault(f"{sent} returned no exact-cased 'Value' key: {reply.excerpt()}")
            if not isinstance(body["Value"], kind):
                raise ReplyFault(f"{sent} returned a Value that is not a JSON {'array' if kind is list else 'object'}: {reply.excerpt()}")
        except TransportFailure as exc:
            hint = " (the management timeout is the discovery duration; see --discovery-duration)" if "timeout" in str(exc) else ""
            self.log.error(test, f"{exc}{hint}")
            return None
        except ReplyFault as exc:
            self.log.issue(test, str(exc))
            return None
        return body["Value"]

    def check_api_versions(self, versions: list[Any]) -> None:
        test = "Management apiversions"
        if versions == [1]:
            self.log.ok(test, "[1]")
        elif not versions:
            self.log.issue(test, "apiversions returned an empty list; it must be exactly [1]")
        elif len(versions) > 1:
            self.log.issue(test, f"apiversions returned {json.dumps(versions)}; it must be exactly [1], one value")
        else:
            self.log.issue(test, f"apiversions returned {json.dumps(versions)}, without 1; it must be exactly [1]")

    def check_description(self, description: dict[str, Any]) -> None:
        test = "Management description"
        fine = True
        for key, required in (("ServerName", False), ("Manufacturer", True), ("ManufacturerVersion", True), ("Location", False)):
            value = description.get(key)
            if isinstance(value, str) and value:
                continue
            fine = False
            problem = f"{key} is {'missing (keys are case-sensitive)' if key not in description else 'empty or not a string'}"
            if required:
                self.log.issue(test, f"{problem}; it must be a non-empty string")
            else:
                self.log.info(test, f"{problem}; give it a value")
        if fine:
            self.log.ok(test, ", ".join(f"{key}={description[key]!r}" for key in ("ServerName", "Manufacturer", "ManufacturerVersion", "Location")))

    def check_configured_devices(self, devices: list[Any], server: tuple[str, int]) -> None:
        test = "Management devices"
        if not devices:
            self.log.issue(test, "configureddevices returned an empty list; it must list every device the server serves")
            return
        known = {name.lower() for name in DEVICE_TYPES}
        serves_url_device = False
        for device in devices:
            if not isinstance(device, dict):
                self.log.issue(test, f"the entry {json.dumps(device)} is not a JSON object")
                continue
            shown = json.dumps(device)
            problems = []
            device_type: Any = device.get("DeviceType")
            number: Any = device.get("DeviceNumber")
            if not (isinstance(device_type, str) and device_type.lower() in known):
                problems.append(f"DeviceType {json.dumps(device_type)} is not an ASCOM device type ({', '.join(DEVICE_TYPES)})")
            if not (has_json_kind(number, int) and number >= 0):
                problems.append(f"DeviceNumber {json.dumps(number)} is not an integer of 0 or more")
            if not (isinstance(device.get("UniqueID"), str) and device["UniqueID"]):
                problems.append("UniqueID is missing or empty; it must be a persistent, globally unique text")
            for problem in problems:
                self.log.issue(test, f"{shown}: {problem}")
            if not (isinstance(device.get("DeviceName"), str) and device["DeviceName"]):
                self.log.info(test, f"{shown}: DeviceName is missing or empty; give the device a name")
            if not problems:
                self.log.ok(test, shown)
            if isinstance(device_type, str) and device_type.lower() == self.url.device_type and number == self.url.device_number:
                serves_url_device = True
        if server == (self.url.host, self.url.port) and not serves_url_device:
            self.log.issue(test, f"configureddevices does not list the device under test ({self.url.device_type} {self.url.device_number})")
