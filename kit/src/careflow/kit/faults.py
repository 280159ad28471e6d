"""Crash points for the reliability tests.

A test sets ``CAREFLOW_CRASH_AT`` to one point name; when the process reaches
that point it kills itself with SIGKILL, exactly as an OOM kill or a power cut
would, with no chance to clean up. Unset (always, in production) it is a no-op.
"""

from __future__ import annotations

import os
import signal

#: After the outbox rows are read and before they are published.
RELAY_BEFORE_PUBLISH = "relay.before_publish"
#: After Kafka confirmed the publish and before the rows are marked published.
RELAY_AFTER_PUBLISH = "relay.after_publish"
#: After the consumer's transaction committed and before its offsets are committed.
CONSUMER_AFTER_COMMIT = "consumer.after_commit"
#: After a command's events are committed, before anything is published.
SERVICE_AFTER_COMMIT = "service.after_commit"


def crash_point(name: str) -> None:
    """Die with SIGKILL here if the environment names this point."""
    if os.environ.get("CAREFLOW_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
