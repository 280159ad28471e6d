"""Keep ``careflow dev``'s services running: restart a crashed one with backoff, as
Kubernetes does (CrashLoopBackOff), and say so."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """The wait before a restart doubles with each crash in a row, up to ``cap``; a run
    of ``reset_after`` seconds counts as healthy, and the next crash starts over."""

    initial: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    reset_after: float = 60.0

    def delay(self, crashes_in_a_row: int) -> float:
        return min(self.cap, self.initial * self.factor ** (crashes_in_a_row - 1))


@dataclass
class _State:
    started_at: float
    crashes: int = 0
    restarts: int = 0
    due: float | None = None


@dataclass
class Supervisor:
    """Watch ``processes`` (name -> process, updated in place) and start an exited one
    again with ``spawn(name)`` after its backoff; ``say`` tells the operator."""

    processes: MutableMapping[str, subprocess.Popen[bytes]]
    spawn: Callable[[str], subprocess.Popen[bytes]]
    say: Callable[[str], None]
    backoff: Backoff = field(default_factory=Backoff)
    clock: Callable[[], float] = time.monotonic
    _states: dict[str, _State] = field(default_factory=dict)

    def restarts(self, name: str) -> int:
        """How often ``name`` has been started again."""
        state = self._states.get(name)
        return state.restarts if state else 0

    def poll(self) -> None:
        """Look once: schedule the restart of what exited, start what is due."""
        now = self.clock()
        for name, proc in list(self.processes.items()):
            state = self._states.setdefault(name, _State(started_at=now))
            if state.due is not None:
                if now >= state.due:
                    self.processes[name] = self.spawn(name)
                    state.due, state.started_at = None, now
                    state.restarts += 1
                    self.say(f"{name} restarted (pid {self.processes[name].pid})")
                continue
            code = proc.poll()
            if code is None:
                continue
            if now - state.started_at >= self.backoff.reset_after:
                state.crashes = 0
            state.crashes += 1
            delay = self.backoff.delay(state.crashes)
            state.due = now + delay
            self.say(
                f"{name} exited ({_describe(code)}); restarting in {delay:g}s "
                f"(crash {state.crashes} in a row)"
            )


def _describe(code: int) -> str:
    if code < 0:
        import signal

        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
