"""A minimal INDI client that runs an INDI driver itself and speaks its XML on stdin/stdout.

That is exactly what indiserver does with a driver; talking to the driver directly opens no TCP
listener at all (indiserver cannot be bound to loopback only) and gives each property update an
exact arrival time on this process's monotonic clock.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

_DECLARATION = re.compile(r"<\?xml[^>]*\?>")


@dataclass(frozen=True)
class Update:
    """One property vector from the driver, stamped with the instant it arrived."""

    time: float
    tag: str  # defNumberVector, setNumberVector, message, ...
    name: str
    state: str
    values: dict[str, str] = field(default_factory=dict)


class IndiDriver:
    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.device = ""
        self.updates: queue.Queue[Update] = queue.Queue()
        self._home = tempfile.TemporaryDirectory(prefix="bench-indi-")
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> IndiDriver:
        # A private HOME, so the driver's saved configuration neither comes from nor goes to the user's.
        environment = dict(os.environ, HOME=self._home.name)
        self._process = subprocess.Popen([self.executable], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, env=environment)
        self._reader = threading.Thread(target=self._read, name="indi reader", daemon=True)
        self._reader.start()
        self.send('<getProperties version="1.7"/>')
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            assert process.stdin is not None
            process.stdin.close()
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(5)
        self._home.cleanup()

    def __enter__(self) -> IndiDriver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def send(self, xml: str) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(xml.encode())
        self._process.stdin.flush()

    def set_text(self, name: str, element: str, value: str) -> None:
        self.send(f"<newTextVector device={quoteattr(self.device)} name={quoteattr(name)}>"
                  f"<oneText name={quoteattr(element)}>{escape(value)}</oneText></newTextVector>")

    def set_switch(self, name: str, element: str, on: bool = True) -> None:
        self.send(f"<newSwitchVector device={quoteattr(self.device)} name={quoteattr(name)}>"
                  f"<oneSwitch name={quoteattr(element)}>{'On' if on else 'Off'}</oneSwitch></newSwitchVector>")

    def set_number(self, name: str, element: str, value: float) -> None:
        self.send(f"<newNumberVector device={quoteattr(self.device)} name={quoteattr(name)}>"
                  f"<oneNumber name={quoteattr(element)}>{value:g}</oneNumber></newNumberVector>")

    def wait_for(self, name: str, state: str | None, timeout: float, tags: tuple[str, ...] = ()) -> Update:
        """The next update of property ``name`` (in ``state``, if given); TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the INDI driver sent no {name} {state or ''} within {timeout:g} s")
            try:
                update = self.updates.get(timeout=remaining)
            except queue.Empty:
                continue
            if update.name == name and (state is None or update.state == state) and (not tags or update.tag in tags):
                return update

    def drain(self) -> None:
        while True:
            try:
                self.updates.get_nowait()
            except queue.Empty:
                return

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        stream = self._process.stdout.fileno()
        parser = ElementTree.XMLPullParser(events=("start", "end"))
        parser.feed("<stream>")
        pending = ""
        depth = 0
        while True:
            chunk = os.read(stream, 65536)
            if not chunk:
                return
            arrived = time.monotonic()
            pending = _DECLARATION.sub("", pending + chunk.decode(errors="replace"))
            cut = pending.rfind("<?")  # an XML declaration split across reads waits for its end
            ready, pending = (pending[:cut], pending[cut:]) if cut >= 0 else (pending, "")
            parser.feed(ready)
            for event, element in parser.read_events():
                if event == "start":
                    depth += 1
                    continue
                depth -= 1
                if depth == 1:
                    self._note(arrived, element)
                    element.clear()

    def _note(self, arrived: float, element: ElementTree.Element) -> None:
        if element.get("device") and not self.device:
            self.device = element.get("device", "")
        values = {child.get("name", ""): (child.text or "").strip() for child in element}
        self.updates.put(Update(arrived, element.tag, element.get("name", ""), element.get("state", ""), values))
