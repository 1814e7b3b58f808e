"""SimulatedMount: a mount with the focus motor on its AUX bus, reachable the ways a real one is.

* ``usb_path``: the mount's USB port (Evolution, CGX ...) on a pty: raw AUX frames, echo and chatter.
* ``hc_path``: a NexStar hand controller's serial port on a pty, with the pass-through.
* ``wifi_url``: the mount's WiFi module on TCP (``socket://127.0.0.1:PORT``), with its ``$$$``
  command mode.
* ``aux_url``: a cable on its AUX or PC port (``mountaux://NAME``, in this process: a pty has no
  modem lines for the port's RTS/CTS handshake).

All three reach one bus, so a move made through one is seen through the others.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Self

from .hand_controller import HandController
from .motor import FocusMotor
from .mount_bus import CHATTER_INTERVAL_S, MountBus
from .mount_wifi import WifiBridge
from .protocol_mountaux import register, unregister
from .pty_server import PtySimulator
from .serving import Responder
from .tcp_server import TcpSimulator


class SimulatedMount:
    def __init__(self, motor: FocusMotor, folder: str | os.PathLike[str], *, chatter_interval_s: float | None = CHATTER_INTERVAL_S,
                 hc_timeout_s: float = 1.0, hc_delay_s: float = 0.0, host: str = "127.0.0.1", wifi_port: int = 0) -> None:
        self.motor = motor
        self.bus = MountBus(motor, chatter_interval_s=chatter_interval_s)
        self.hand_controllers: list[HandController] = []
        self.bridges: list[WifiBridge] = []
        self._hc_timeout_s = hc_timeout_s
        self.hc_delay_s = hc_delay_s  # a slow hand controller's pass-through answers take this long
        folder = Path(folder)
        self.usb = PtySimulator(motor, folder / "mount-usb", responder=lambda: self.bus.port("mount usb"))
        self.hc = PtySimulator(motor, folder / "hand-controller", responder=self._hand_controller)
        self.wifi = TcpSimulator(motor, host, wifi_port, responder=self._bridge)
        self._aux_name = f"mount-{uuid.uuid4().hex[:12]}"
        self.aux_url = register(self._aux_name, self.bus)

    @property
    def usb_path(self) -> str:
        return str(self.usb.path)

    @property
    def hc_path(self) -> str:
        return str(self.hc.path)

    @property
    def wifi_url(self) -> str:
        return self.wifi.url

    @property
    def command_mode_entries(self) -> int:
        """How often any client put the WiFi module into its command mode."""
        return sum(bridge.command_mode_entries for bridge in self.bridges)

    def _hand_controller(self) -> Responder:
        controller = HandController(self.bus, pass_through_timeout_s=self._hc_timeout_s, reply_delay_s=self.hc_delay_s)
        self.hand_controllers.append(controller)
        return controller

    def _bridge(self) -> Responder:
        bridge = WifiBridge(self.bus)
        self.bridges.append(bridge)
        return bridge

    def start(self) -> Self:
        self.bus.start()
        self.usb.start()
        self.hc.start()
        self.wifi.start()
        return self

    def stop(self) -> None:
        self.wifi.stop()
        self.hc.stop()
        self.usb.stop()
        unregister(self._aux_name)
        self.bus.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
