"""ASCOM's own OpenAPI files against the running server, with schemathesis: requests generated
from the Device and Management API schemas, every answer checked against them. Zero 5xx and no
other mismatch, apart from the spec's known quirks declared in QUIRKS with their reasons.

The spec files live in the project's shared folder beside the repository (``../shared/spec``);
without them the test is skipped, except in CI, where it must run. A few examples per operation
keep the run within about a minute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import yaml
from conftest import IN_CI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from server_support import RunningServer, running_server

SPEC_DIR = Path(__file__).resolve().parents[2] / "shared" / "spec"
DEVICE_SPEC = SPEC_DIR / "AlpacaDeviceAPI_v1.yaml"
MANAGEMENT_SPEC = SPEC_DIR / "AlpacaManagementAPI_v1.yaml"
EXAMPLES_PER_OPERATION = 4
REPLY_TIMEOUT_S = 10.0
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance, response_schema_conformance]


def _transaction_id_zero(spec: dict[str, Any]) -> None:
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        if name.endswith("Response"):
            field = schema.get("properties", {}).get("ClientTransactionID")
            if field is not None:
                field["minimum"] = 0


# The spec's known quirks, in one place. Each entry: what is declared differently from the spec,
# why, and how (a change to the loaded spec, never to the files). Checks left out are listed too.
QUIRKS: dict[str, tuple[str, Callable[[dict[str, Any]], None] | None]] = {
    "ClientTransactionID 0 in replies": (
        "The response schemas say minimum 1, but their own description and the API reference say a device "
        "echoes 0 when the client sent no valid ClientTransactionID, and ConformU requires it.",
        _transaction_id_zero,
    ),
    "400, not 405, for a method a member does not take": (
        "Alpaca answers every protocol fault with 400 and a text message (API reference, 'Bad Paths'); "
        "schemathesis's unsupported_method check expects 405, so it is not run.",
        None,
    ),
    "only the focuser, device 0": (
        "The Device API templates common members over every device type; this server serves focusers, so "
        "generated cases are sent to /focuser/0 (another type or number is a 400, tested elsewhere), and "
        "positive_data_acceptance (2xx for any schema-valid request) is not run for that reason.",
        None,
    ),
}


def spec_problem() -> str | None:
    missing = [path for path in (DEVICE_SPEC, MANAGEMENT_SPEC) if not path.is_file()]
    if missing:
        return f"{', '.join(map(str, missing))} missing: the Alpaca OpenAPI files are expected in ../shared/spec beside the repository"
    return None


def operations(path: Path, base: str) -> list[Any]:
    """(base, operation) pairs of the spec at ``path`` with QUIRKS applied; none when it is missing."""
    if not path.is_file():
        return []
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    for _reason, change in QUIRKS.values():
        if change is not None:
            change(spec)
    found = [result.ok() for result in schemathesis.openapi.from_dict(spec).get_all_operations()]
    return [pytest.param(base, operation, id=operation.label) for operation in found if _served(operation.path)]


def _served(path: str) -> bool:
    """Common members and the focuser's own; the other device types' members are not served here."""
    return base_path_type(path) in (None, "focuser", "{device_type}")


def base_path_type(path: str) -> str | None:
    parts = path.strip("/").split("/")
    return parts[0] if len(parts) == 3 and parts[1] == "{device_number}" else None


OPERATIONS = operations(DEVICE_SPEC, "/api/v1") + operations(MANAGEMENT_SPEC, "")


@pytest.fixture(scope="module")
def running() -> Iterator[RunningServer]:
    with running_server(time_scale=200.0) as server:
        yield server


def test_the_spec_files_are_there() -> None:
    problem = spec_problem()
    if problem is not None:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)


@pytest.mark.parametrize(("base", "operation"), OPERATIONS)
def test_every_operation_answers_as_the_schema_says(running: RunningServer, base: str, operation: Any) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(case: Any) -> None:
        if "device_type" in case.path_parameters:
            case.path_parameters["device_type"] = "focuser"
        if "device_number" in case.path_parameters:
            case.path_parameters["device_number"] = 0
        case.call_and_validate(base_url=running.url + base, session=session, checks=CHECKS, timeout=REPLY_TIMEOUT_S)

    with requests.Session() as session:
        check()
