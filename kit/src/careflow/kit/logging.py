"""Structured JSON logs (structlog) that carry case id and correlation id.

Personal data never reaches a log line: keys that could hold it are dropped
by a processor, whatever the call site passes, and an exception is written as
its type and where it was raised, never its text: a database error quotes the
row it refused, a validation error the value it could not read.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

#: Keys that may carry personal identity numbers, names or message text.
REDACTED_KEYS = frozenset(
    {
        "personal_identity_number",
        "pnr",
        "name",
        "text",
        "advice",
        "documentation_note",
        "answers",
        "body",
        "payload",
        "token",
        "password",
    }
)


#: A bearer token wherever it hides in text: a query string (``?token=...``, ``access_token=``),
#: an Authorization header value, or a bare JWT (three base64url parts, the first a JSON header).
_TOKEN_TEXT = re.compile(
    r"((?:access_|refresh_|id_)?token=)[^&\s\"']+"
    r"|(Bearer\s+)[A-Za-z0-9._~+/=-]+"
    r"|eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
    re.IGNORECASE,
)


def scrub(text: str) -> str:
    """``text`` with every bearer token in it replaced by ``[redacted]``."""

    def hide(match: re.Match[str]) -> str:
        prefix = match.group(1) or match.group(2) or ""
        return f"{prefix}[redacted]"

    return _TOKEN_TEXT.sub(hide, text)


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in REDACTED_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    # Library log lines (uvicorn's request lines, exception text) may quote a token anywhere.
    for key, value in event_dict.items():
        if isinstance(value, str) and key not in REDACTED_KEYS:
            event_dict[key] = scrub(value)
    return event_dict


def exception_outline(exc: BaseException) -> str:
    """A traceback without any exception's text: each exception's type and its frames.

    The chain (``raise ... from``, errors raised while handling) is kept, outermost
    last as Python prints it; the frames name files, lines, functions and source lines.
    """
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    parts = []
    for item in reversed(chain):
        frames = "".join(traceback.format_list(traceback.extract_tb(item.__traceback__)))
        kind = type(item)
        parts.append(
            f"Traceback (most recent call last):\n{frames}{kind.__module__}.{kind.__qualname__}"
        )
    return "\n\nwhich led to:\n\n".join(parts)


def _outline_exception(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace ``exc_info`` (``log.exception``, a library's ``exc_info=True``) by its outline."""
    exc_info = event_dict.pop("exc_info", None)
    exc: BaseException | None = None
    if isinstance(exc_info, BaseException):
        exc = exc_info
    elif isinstance(exc_info, tuple):
        exc = exc_info[1]
    elif exc_info:
        exc = sys.exc_info()[1]
    if exc is not None:
        event_dict["exception"] = exception_outline(exc)
        event_dict.setdefault("error", type(exc).__name__)
    return event_dict


def configure_logging(service: str, level: str = "INFO", json: bool | None = None) -> None:
    """Configure structlog and the standard library logging once per process."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _outline_exception,
        _redact,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Route library logs (uvicorn, aiokafka) through the same renderer.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; context bound with ``case_context`` is added to every line."""
    return structlog.get_logger(name)


@contextmanager
def case_context(case_id: object, correlation_id: object | None = None) -> Iterator[None]:
    """Bind case id and correlation id to every log line inside the block."""
    values = {"case_id": str(case_id)}
    if correlation_id is not None:
        values["correlation_id"] = str(correlation_id)
    with structlog.contextvars.bound_contextvars(**values):
        yield
