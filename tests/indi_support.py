"""Reading and setting an INDI driver's properties with Debian's indi_getprop and indi_setprop."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from conftest import wait_for


@dataclass
class IndiProperties:
    """One INDI device on an indiserver at 127.0.0.1:``port``."""

    port: int
    device: str

    def _address(self) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port)]

    def get(self, name: str) -> str | None:
        result = subprocess.run(
            ["indi_getprop", *self._address(), "-t", "1", "-1", f"{self.device}.{name}"], capture_output=True, text=True, timeout=10
        )
        return result.stdout.strip() if result.returncode == 0 else None

    def set(self, assignment: str) -> None:
        subprocess.run(["indi_setprop", *self._address(), f"{self.device}.{assignment}"], check=True, capture_output=True, timeout=10)

    def wait(self, name: str, value: str, timeout: float = 15) -> None:
        wait_for(lambda: self.get(name) == value, timeout=timeout, interval=0.1, what=f"INDI {name} to read {value} (reads {self.get(name)})")
