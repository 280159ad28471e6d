"""What the queue's API document promises for a route, for tests that check answers
against it."""

from __future__ import annotations

from fastapi.routing import APIRoute

from careflow.kit import problems


def documented(route: APIRoute) -> set[int]:
    """The statuses a route's OpenAPI entry lists: its success, what it declares and what
    the kit adds for what wraps it (authentication, inputs, the database)."""
    declared = {int(status) for status in route.responses}
    return {route.status_code or 200} | declared | problems.implied_statuses(route)
