"""The log as JSON lines, for log collectors (Loki, Elasticsearch, journald's JSON export).

With ``log_format = "json"`` every log record becomes one JSON object on one line: its time (UTC,
ISO 8601), level, logger and message, and the fields a request line carries (ClientID,
ClientTransactionID, ServerTransactionID, device, member, method, result), so a collector can
select one client's requests or follow one transaction without parsing sentences. Non-ASCII text
is written as JSON escapes, so no client text can break a line or its encoding.
"""

from __future__ import annotations

import datetime
import json
import logging
import logging.handlers

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REQUEST_FIELDS = ("ClientID", "ClientTransactionID", "ServerTransactionID", "device", "member", "method", "result", "address")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in REQUEST_FIELDS:
            if key in record.__dict__:
                entry[key] = record.__dict__[key]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class EarlyRecords:
    """Holds the records logged before the configuration says which format to use (the file's
    name, a UniqueID just made), so that with "json" every line of the log is JSON."""

    def __init__(self) -> None:
        self._root = logging.getLogger()
        self._handlers = list(self._root.handlers)
        self._memory = logging.handlers.MemoryHandler(capacity=10_000, flushLevel=logging.CRITICAL + 1)
        for handler in self._handlers:
            self._root.removeHandler(handler)
        self._root.addHandler(self._memory)

    def release(self, name: str) -> None:
        """Give the real handlers the chosen format, put them back, and write what was held."""
        formatter = JsonLines() if name == "json" else logging.Formatter(TEXT_FORMAT)
        self._root.removeHandler(self._memory)
        for handler in self._handlers:
            handler.setFormatter(formatter)
            self._root.addHandler(handler)
        for record in self._memory.buffer:
            if record.levelno >= self._root.getEffectiveLevel():
                self._root.handle(record)
        self._memory.buffer.clear()
