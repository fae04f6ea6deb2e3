"""Keep one service process alive: restart it when it dies, stop it when asked.

``python -m botwatch_airflow.services.keepalive -- airflow scheduler --skip-serve-logs``

What systemd's ``Restart=always`` gives a production Airflow, for ``make airflow``'s services.
On the embedded SQLite metadata database Airflow 3.3's scheduler can die on a run another
process rolled back (``ObjectDeletedError: Instance '<DagRun ...>' has been deleted``, seen here
while ``airflow backfill create`` wrote its runs); without a restart every queued run waits
forever. Each restart is a line in the service's log, with the exit code, and waits a little
longer after a quick death (1 s doubling to 30 s; back to 1 s after a minute of uptime).

SIGTERM or SIGINT is passed to the child, and this process exits once the child has:
``processes.stop`` ends the whole process group anyway.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

#: Backoff bounds between restarts, and the uptime after which the backoff starts again.
FIRST_DELAY_S, MAX_DELAY_S, STABLE_AFTER_S = 1.0, 30.0, 60.0


class Keepalive:
    """Runs ``argv`` again each time it exits, until ``terminate`` is called."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.sleep = sleep
        self.log = log or (lambda line: print(f"keepalive: {line}", file=sys.stderr, flush=True))
        self.stopping = False
        self.child: subprocess.Popen | None = None
        self.restarts = 0

    def terminate(self, signum: int = signal.SIGTERM, _frame: object = None) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)

    def run(self, max_restarts: int | None = None) -> int:
        """Run until stopped; returns the last exit code of the child."""
        delay, code = FIRST_DELAY_S, 0
        while True:
            began = time.monotonic()
            self.child = subprocess.Popen(self.argv)  # noqa: S603 - argv comes from botwatch
            code = self.child.wait()
            if self.stopping or (max_restarts is not None and self.restarts >= max_restarts):
                return code
            if time.monotonic() - began >= STABLE_AFTER_S:
                delay = FIRST_DELAY_S
            self.log(f"{self.argv[0]} {' '.join(self.argv[1:3])} exited with code {code}; "
                     f"restarting in {delay:.0f} s (restart {self.restarts + 1})")  # fmt: skip
            self.sleep(delay)
            if self.stopping:
                return code
            self.restarts += 1
            delay = min(delay * 2, MAX_DELAY_S)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print(
            "usage: python -m botwatch_airflow.services.keepalive -- COMMAND [ARGS...]",
            file=sys.stderr,
        )
        return 2
    keeper = Keepalive(args)
    signal.signal(signal.SIGTERM, keeper.terminate)
    signal.signal(signal.SIGINT, keeper.terminate)
    return keeper.run()


if __name__ == "__main__":
    sys.exit(main())
