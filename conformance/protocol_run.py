"""The Alpaca protocol run (ConformU ``conformu alpacaprotocol URL``), in strict mode.

Every member is called with ConformU's request variants: good casing, an extra parameter,
mis-cased ID keys, bad ID values, bad parameter values and mis-cased parameter names. Each reply is
judged on status, content type, exact JSON key casing, the ClientTransactionID echo and the
ServerTransactionID. Strict mode is ConformU's stricter setting: bad IDs must give HTTP 400,
ServerTransactionID must be 1 or more, and a GET reply must carry ``Value`` even with an error.
Two checks go beyond ConformU: a ServerTransactionID given to two replies, and a null ErrorMessage
on a successful reply (ConformU: information only), are issues.
The device is changed as little as possible: a focuser is told to move to where it already is.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from .client import (
    INVALID_VALUE,
    NOT_IMPLEMENTED,
    Deadline,
    DeviceUrl,
    OutOfTime,
    Reply,
    ServerUnreachable,
    Transport,
    TransportFailure,
    has_json_kind,
    parse_uint32,
    poll_pauses,
)
from .options import CheckerOptions
from .report import Report, Verdict
from .steps import run_steps

RUN = "protocol"
CLIENT_ID = "123456"
TRANSACTION_ID = "67890"
BAD_VALUE = "asduio6fghZZ"
GOOD_IDS = (("ClientID", CLIENT_ID), ("ClientTransactionID", TRANSACTION_ID))
EXTRA = (("ExtraParameter", "ExtraValue"),)
STATUS_4XX = (400, 401, 402, 403, 404, 405, 406, 407, 409, 410)
BAD_CLIENT_IDS = (("empty", ""), ("white space", "     "), ("negative", "-12345"), ("non-numeric", "NASDAQ"))
BAD_TRANSACTION_IDS = (("empty", ""), ("white space", "     "), ("negative", "-67890"), ("non-numeric", "qweqwe"))
COMMON_KEYS = ("ClientTransactionID", "ServerTransactionID", "ErrorNumber", "ErrorMessage")
HALT_WAIT = 10.0
Params = tuple[tuple[str, str], ...]


class Abandon(Exception):
    """A wait timed out; ConformU skips the remaining protocol tests."""


@dataclass(frozen=True)
class Variant:
    name: str
    params: Params
    expected: tuple[int, ...]
    accept_invalid_value: bool = False  # 200 with InvalidValue (0x401) is as good as 400
    bad_id: bool = False


def id_variants(extra: Params = ()) -> list[Variant]:
    """The variants ConformU sends to every member: the good ones, then the eight bad IDs."""
    return [
        Variant("Good casing", GOOD_IDS + extra, (200,)),
        Variant("Good casing with an extra parameter", GOOD_IDS + extra + EXTRA, (200,)),
        Variant("Different ClientID casing", (("clientid", CLIENT_ID), ("ClientTransactionID", TRANSACTION_ID)) + extra, (200,)),
        Variant(
            "Different ClientTransactionID casing", (("ClientID", CLIENT_ID), ("clienttransactionid", TRANSACTION_ID)) + extra, (200,)
        ),
        *bad_id_variants(extra),
    ]


def bad_id_variants(extra: Params) -> list[Variant]:
    variants = [
        Variant(f"Bad ClientID value ({label})", (("ClientID", value), ("ClientTransactionID", TRANSACTION_ID)) + extra, (400,), True, True)
        for label, value in BAD_CLIENT_IDS
    ]
    variants += [
        Variant(f"Bad ClientTransactionID value ({label})", (("ClientID", CLIENT_ID), ("ClientTransactionID", value)) + extra, (400,), True, True)
        for label, value in BAD_TRANSACTION_IDS
    ]
    return variants


def one_parameter_variants(name: str, value: str) -> list[Variant]:
    good = ((name, value),)
    return [
        Variant("Good casing", GOOD_IDS + good, (200,)),
        Variant("Good casing with an extra parameter", GOOD_IDS + good + EXTRA, (200,)),
        Variant(f"Bad parameter value ({name}={BAD_VALUE})", GOOD_IDS + ((name, BAD_VALUE),), (400,), accept_invalid_value=True),
        Variant(f"Different parameter casing ({name.swapcase()}={value})", GOOD_IDS + ((name.swapcase(), value),), (400,)),
        Variant("Different ClientID casing", (("clientid", CLIENT_ID), ("ClientTransactionID", TRANSACTION_ID)) + good, (200,)),
        Variant("Different ClientTransactionID casing", (("ClientID", CLIENT_ID), ("clienttransactionid", TRANSACTION_ID)) + good, (200,)),
        *bad_id_variants(good),
    ]


def expected_echo(method: str, params: Params) -> int | None:
    """The ClientTransactionID the reply must carry, or None when none was sent.

    Query keys are case-insensitive, so a GET echoes any casing; form keys are case-sensitive, so a
    PUT with a mis-cased key has sent no ClientTransactionID and must echo 0. A value that is not a
    uint32 must be echoed as 0.
    """
    exact = [value for key, value in params if key == "ClientTransactionID"]
    any_case = [value for key, value in params if key.lower() == "clienttransactionid"]
    if not any_case:
        return None
    if method == "PUT" and not exact:
        return 0
    parsed = parse_uint32((exact or any_case)[0])
    return 0 if parsed is None else parsed


@dataclass
class Judgement:
    """What one reply earned: the problems found, and the parsed JSON if there was any."""

    problems: list[tuple[Verdict, str]]
    body: dict[str, Any] | None = None
    error_number: int | None = None
    error_description: str = ""

    @property
    def accepted(self) -> bool:
        return self.body is not None and self.error_number == 0


def run_protocol(url: DeviceUrl, options: CheckerOptions, report: Report, deadline: Deadline) -> None:
    ProtocolRun(url, options, report, deadline).run()


class ProtocolRun:
    def __init__(self, url: DeviceUrl, options: CheckerOptions, report: Report, deadline: Deadline) -> None:
        self.url = url
        self.options = options
        self.transport = Transport(url.host, url.port, options.timeout, deadline)
        self.log = report.for_run(RUN)
        self.interface_version = 4
        self.server_ids: dict[int, str] = {}  # each ServerTransactionID seen, and the request that got it
        self.repeat_reported = False
        self.null_message_reported = False

    def run(self) -> None:
        steps = [
            ("connecting", self.connection_sequence),
            ("the common members", self.test_common),
            ("the focuser members", self.test_focuser),
        ]
        if not run_steps(steps, self.log, "Protocol", self.options.total_timeout, Abandon):
            return
        try:
            self.check("PUT Connected", Variant("Disconnect at the end", GOOD_IDS + (("Connected", "False"),), (200,)), "PUT", "connected")
        except (ServerUnreachable, OutOfTime) as exc:
            self.log.error("Protocol", f"The final disconnect was not sent: {exc}")

    # --- sending and judging ---------------------------------------------------------------------

    def check(self, test: str, variant: Variant, method: str, member: str, *, path: str | None = None, bad_uri: bool = False) -> Judgement:
        """Send one variant and report what ConformU's SendToDevice would make of the reply."""
        try:
            reply = self.transport.request(method, path or self.url.member_path(member), variant.params, counted=not bad_uri)
        except TransportFailure as exc:
            if bad_uri:
                self.log.ok(test, f"{variant.name}: the host rejected the bad URI ({exc})")
            else:
                self.log.error(test, f"{variant.name}: {exc}")
            return Judgement([])
        judgement = Judgement([])
        if reply.status == 200 and b"<!DOCTYPE" not in reply.body:
            judgement = self.inspect_json(reply)
        status_ok = reply.status in variant.expected or (
            reply.status == 200 and judgement.error_number == INVALID_VALUE and variant.accept_invalid_value
        )
        if not status_ok:
            expected = " or ".join(str(s) for s in variant.expected)
            if variant.accept_invalid_value:
                expected += " (or 200 with InvalidValue 0x401)"
            judgement.problems.insert(0, (Verdict.ISSUE, f"expected HTTP status {expected} but received {reply.status}"))
        elif judgement.error_description and reply.status in variant.expected:
            judgement.problems.append((Verdict.INFO, f"a valid request got an ASCOM error: {judgement.error_description}"))
        head = f"{variant.name}: {reply.sent} -> HTTP {reply.status} {reply.excerpt(120)}"
        for verdict, problem in judgement.problems:
            self.log.add(verdict, test, f"{head}; {problem}")
        if not judgement.problems:
            self.log.ok(test, f"{variant.name}: HTTP {reply.status} as expected")
        return judgement

    def inspect_json(self, reply: Reply) -> Judgement:
        problems: list[tuple[Verdict, str]] = []
        judgement = Judgement(problems)
        if not reply.is_json_type:
            shown = f"Content-Type {reply.content_type!r}" if reply.content_type else "no Content-Type header"
            problems.append((Verdict.ISSUE, f"the reply has {shown}; Alpaca replies must be application/json"))
        try:
            body = json.loads(reply.body)
        except ValueError as exc:
            problems.append((Verdict.ERROR, f"the body is not valid JSON ({exc})"))
            return judgement
        if not isinstance(body, dict):
            problems.append((Verdict.ERROR, "the JSON is not an object"))
            return judgement
        for key in body:
            proper = next((k for k in COMMON_KEYS if k.lower() == key.lower()), None)
            if proper is not None and key != proper:
                problems.append((Verdict.ISSUE, f"the key {key!r} must be cased exactly {proper!r} (JSON keys are case-sensitive)"))
        if not self.typed_fields_readable(body, problems):
            return judgement
        judgement.body = body
        if reply.method == "GET" and "Value" not in body:
            miscased = [k for k in body if k.lower() == "value"]
            hint = f" (found {miscased[0]!r})" if miscased else ""
            problems.append((Verdict.ISSUE, f"the reply has no 'Value' key{hint}; every GET reply must carry Value, even with an error"))
        echo = expected_echo(reply.method, reply.params)
        received = body.get("ClientTransactionID", 0)
        if echo is not None and received != echo:
            why = " (a mis-cased form key is not ClientTransactionID, so nothing was sent and the echo must be 0)" if (
                reply.method == "PUT" and echo == 0 and not any(k == "ClientTransactionID" for k, _ in reply.params)
            ) else ""
            problems.append((Verdict.ISSUE, f"expected ClientTransactionID {echo} but received {received}{why}"))
        server_id = body.get("ServerTransactionID", 0)
        if server_id == 0:
            shown = "missing" if "ServerTransactionID" not in body else "0"
            problems.append((Verdict.ISSUE, f"ServerTransactionID is {shown}; it must be 1 or more (start at 1 and count up)"))
        else:
            self.note_server_id(server_id, reply, problems)
        number = body.get("ErrorNumber", 0)
        message = body.get("ErrorMessage")
        judgement.error_number = number
        if number == 0 and not isinstance(message, str):
            if not self.null_message_reported:
                self.null_message_reported = True
                shown = "null" if "ErrorMessage" in body else "missing"
                problems.append((
                    Verdict.ISSUE,
                    f"ErrorMessage is {shown} on a successful reply; it must be the empty string \"\" (ConformU only gives "
                    "information, but clients that read JSON into typed fields fail on it; reported once per run)",
                ))
        elif (number != 0 or message != "") and number != NOT_IMPLEMENTED:
            shown_message = "null or missing" if message is None else repr(message)
            judgement.error_description = f"ErrorNumber {number} (0x{number:X}), ErrorMessage {shown_message}"
        return judgement

    def note_server_id(self, server_id: int, reply: Reply, problems: list[tuple[Verdict, str]]) -> None:
        """A ServerTransactionID must differ on every reply; the first one given twice is reported, once."""
        first = self.server_ids.get(server_id)
        if first is None:
            self.server_ids[server_id] = reply.sent
        elif not self.repeat_reported:
            self.repeat_reported = True
            problems.append((
                Verdict.ISSUE,
                f"ServerTransactionID {server_id} was already given to the reply to {first}; it must be different on every "
                "reply (count up from 1), or clients cannot match replies in their logs (reported once per run)",
            ))

    @staticmethod
    def typed_fields_readable(body: dict[str, Any], problems: list[tuple[Verdict, str]]) -> bool:
        """Whether the .NET Response class can be filled from the exact-cased keys without a JsonException."""
        readable = True
        for key in ("ClientTransactionID", "ServerTransactionID"):
            if key in body and not (has_json_kind(body[key], int) and 0 <= body[key] <= 0xFFFFFFFF):
                problems.append((Verdict.ERROR, f"{key} {json.dumps(body[key])} cannot be read as an unsigned 32-bit integer"))
                readable = False
        if "ErrorNumber" in body and not (has_json_kind(body["ErrorNumber"], int) and -(2**31) <= body["ErrorNumber"] < 2**31):
            problems.append((Verdict.ERROR, f"ErrorNumber {json.dumps(body['ErrorNumber'])} cannot be read as a 32-bit integer"))
            readable = False
        if "ErrorMessage" in body and not (body["ErrorMessage"] is None or isinstance(body["ErrorMessage"], str)):
            problems.append((Verdict.ERROR, f"ErrorMessage {json.dumps(body['ErrorMessage'])} is not a string"))
            readable = False
        return readable

    def get_variants(self, name: str, member: str) -> Judgement:
        """All GET variants of a member; the judgement of the good-casing call."""
        judgements = [self.check(f"GET {name}", variant, "GET", member) for variant in id_variants()]
        return judgements[0]

    def put_variants(self, name: str, member: str, variants: list[Variant], wait_limit: float | None = None) -> None:
        """PUT variants; after an accepted call, wait for the focuser to stop, except inside the bad-ID burst."""
        pending = False
        for variant in variants:
            accepted = self.check(f"PUT {name}", variant, "PUT", member).accepted
            if wait_limit is None or not accepted:
                continue
            if variant.bad_id:
                pending = True
            else:
                self.wait_until_false(f"PUT {name}", "ismoving", wait_limit)
        if pending and wait_limit is not None:
            self.wait_until_false(f"PUT {name}", "ismoving", wait_limit)

    def plain(self, method: str, member: str, **params: str) -> Any:
        """A request that is not itself judged (ConformU makes these through its client); its Value or None."""
        try:
            reply = self.transport.request(method, self.url.member_path(member), GOOD_IDS + tuple(params.items()))
            body = json.loads(reply.body) if reply.status == 200 else None
        except (TransportFailure, ValueError):
            return None
        return body.get("Value") if isinstance(body, dict) else None

    def wait_until_false(self, test: str, member: str, limit: float) -> None:
        start = time.monotonic()
        pauses = poll_pauses()
        while True:
            value = self.plain("GET", member)
            if value is False:
                return
            if not isinstance(value, bool):
                self.log.issue(test, f"GET {member} did not give a boolean Value while waiting for it to become false")
                return
            if time.monotonic() - start > limit:
                self.log.issue(test, f"The {member} operation timed out: {member} was still true after {limit:g} s")
                self.log.error(test, "Remaining protocol tests skipped after a timeout")
                raise Abandon
            time.sleep(next(pauses))

    # --- the sequence ------------------------------------------------------------------------------

    def connection_sequence(self) -> None:
        test = "PUT Connected"
        self.check(test, Variant("Connect", GOOD_IDS + (("Connected", "True"),), (200,)), "PUT", "connected")
        self.check(test, Variant("Disconnect", GOOD_IDS + (("Connected", "False"),), (200,)), "PUT", "connected")
        reordered = (("ClientTransactionID", TRANSACTION_ID), ("Connected", "True"), ("ClientID", CLIENT_ID))
        self.check(test, Variant("Connect with the parameters in a different order", reordered, (200,)), "PUT", "connected")
        judgement = self.check("GET InterfaceVersion", Variant("Good casing", GOOD_IDS, (200,)), "GET", "interfaceversion")
        if judgement.body is not None and has_json_kind(judgement.body.get("Value"), int):
            self.interface_version = judgement.body["Value"]

    def test_common(self) -> None:
        base, number = self.url.base_path, self.url.device_number
        device_type = self.url.device_type
        bad_uris = (
            ("Upper-case device type", f"/api/v1/{device_type.upper()}/{number}/description"),
            ("Unknown device type", "/api/v1/baddevicetype/0/description"),
            ("Negative device number", f"/api/v1/{device_type}/-1/description"),
            ("Device number that is not configured", f"/api/v1/{device_type}/99999/description"),
            ("Non-numeric device number", f"/api/v1/{device_type}/A/description"),
            ("Unknown member", f"{base}/descrip"),
        )
        for label, path in bad_uris:
            self.check("Bad URI", Variant(label, GOOD_IDS, STATUS_4XX), "GET", "", path=path, bad_uri=True)
        self.get_variants("Connected", "connected")
        for value in ("", "123456", "asdqwe"):
            variant = Variant(f"Bad Connected value {value!r}", GOOD_IDS + (("Connected", value),), (400,), accept_invalid_value=True)
            self.check("PUT Connected", variant, "PUT", "connected")
        for name in ("Description", "DriverInfo", "DriverVersion", "InterfaceVersion", "Name", "SupportedActions"):
            self.get_variants(name, name.lower())
        if self.interface_version >= 4:
            self.check_device_state_keys(self.get_variants("DeviceState", "devicestate"))

    def check_device_state_keys(self, judgement: Judgement) -> None:
        items = judgement.body.get("Value") if judgement.body is not None else None
        if not isinstance(items, list):
            return
        for item in items:
            if not isinstance(item, dict) or "Name" not in item or "Value" not in item:
                self.log.issue("GET DeviceState", f"the DeviceState item {json.dumps(item)} lacks the exact-cased keys 'Name' and 'Value'")

    def test_focuser(self) -> None:
        self.plain("PUT", "connected", Connected="True")
        if self.interface_version >= 4:
            self.test_connect()
        readings: dict[str, Any] = {}
        for name in ("Absolute", "IsMoving", "MaxIncrement", "MaxStep", "Position", "StepSize", "TempComp"):
            judgement = self.get_variants(name, name.lower())
            readings[name] = judgement.body.get("Value") if judgement.accepted and judgement.body is not None else None
        tempcomp = "True" if readings["TempComp"] is True else "False"
        self.put_variants("TempComp", "tempcomp", one_parameter_variants("TempComp", tempcomp))
        self.get_variants("TempCompAvailable", "tempcompavailable")
        self.get_variants("Temperature", "temperature")
        self.put_variants("Halt", "halt", id_variants(), wait_limit=HALT_WAIT)
        position = str(readings["Position"]) if has_json_kind(readings["Position"], int) else "1"
        self.put_variants("Move", "move", one_parameter_variants("Position", position), wait_limit=self.options.move_timeout)
        self.plain("PUT", "connected", Connected="False")

    def test_connect(self) -> None:
        self.put_variants("Disconnect", "disconnect", id_variants())
        self.wait_until_false("PUT Disconnect", "connecting", self.options.connect_timeout)
        self.put_variants("Connect", "connect", id_variants())
        self.wait_until_false("PUT Connect", "connecting", self.options.connect_timeout)
        self.get_variants("Connecting", "connecting")
