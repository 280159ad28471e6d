"""Token verification is process-wide: give every identity test a clean one."""

from collections.abc import Iterator

import pytest

from careflow.kit.auth import configure_verification


@pytest.fixture(autouse=True)
def _reset_token_verification() -> Iterator[None]:
    yield
    configure_verification(allow_hs256=True)
