"""Running a run's parts in order, and what to say when one cannot go on."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .client import OutOfTime, ServerUnreachable
from .report import RunLog

Step = tuple[str, Callable[[], None]]


def run_steps(
    steps: Sequence[Step], log: RunLog, test: str, total_timeout: float, abandon: type[Exception], aftermath: str = ""
) -> bool:
    """Each step in turn; False when the run must stop at once: the server is gone or the time is up.

    ``abandon`` is the run's own way of stopping early, already reported by the step that raised it;
    ``aftermath`` says what state a run cut short may leave the device in.
    """
    for index, (name, step) in enumerate(steps):
        try:
            step()
        except abandon:
            return True
        except ServerUnreachable as exc:
            log.error(test, str(exc))
            return False
        except OutOfTime as exc:
            undone = ", ".join(later for later, _ in steps[index:])
            log.error(
                test,
                f"The {total_timeout:g} s limit for the whole check ran out during {exc} (checking {name}); not finished: "
                f"{undone}.{aftermath} Raise the limit with --total-timeout",
            )
            return False
    return True
