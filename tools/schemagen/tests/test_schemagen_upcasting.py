"""The generator and upcasting: a new schema version is written only once it can be upcast.

Every real event is still at version 1, so the test pretends ``CaseClosed`` has moved on by
swapping a v2 model into the registry, restoring it (and the upcasters) afterwards.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

from careflow.contracts import CaseClosed, registry
from careflow.contracts.upcasting import UPCASTERS, upcaster
from careflow.schemagen import default_root, run

pytestmark = [pytest.mark.foundation, pytest.mark.unit]

ROOT = default_root()


class CaseClosedV2(CaseClosed):
    """CaseClosed as it might look after a breaking change: a new required field."""

    schema_version: Literal[2] = 2  # type: ignore[assignment]
    follow_up_days: int = Field(ge=0)


@pytest.fixture
def case_closed_v2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    saved = dict(UPCASTERS)
    monkeypatch.setitem(registry.EVENT_TYPES, "CaseClosed", CaseClosedV2)  # type: ignore[arg-type]
    yield
    UPCASTERS.clear()
    UPCASTERS.update(saved)


def test_generator_keeps_the_old_schema_and_demands_an_upcaster(
    case_closed_v2: None, tmp_path: Path
) -> None:
    for name in ("schemas", "asyncapi"):
        shutil.copytree(ROOT / name, tmp_path / name)
    v1_schema = (tmp_path / "schemas" / "CaseClosed.v1.json").read_bytes()

    out = io.StringIO()
    assert run(tmp_path, check=False, out=out) == 1
    assert "CaseClosed: no upcaster from schema_version 1" in out.getvalue()
    assert not (tmp_path / "schemas" / "CaseClosed.v2.json").exists()

    upcaster("CaseClosed", 1)(lambda data: {**data, "follow_up_days": 0})
    out = io.StringIO()
    assert run(tmp_path, check=True, out=out) == 1
    assert "MISSING" in out.getvalue() and "CaseClosed.v2.json" in out.getvalue()
    assert run(tmp_path, check=False, out=io.StringIO()) == 0
    assert run(tmp_path, check=True, out=io.StringIO()) == 0

    assert (tmp_path / "schemas" / "CaseClosed.v1.json").read_bytes() == v1_schema
    v2 = json.loads((tmp_path / "schemas" / "CaseClosed.v2.json").read_text())
    assert v2["properties"]["schema_version"]["const"] == 2
    assert "follow_up_days" in v2["required"]
    chat = json.loads((tmp_path / "asyncapi" / "chat.json").read_text())
    assert chat["components"]["messages"]["CaseClosed"]["x-schema-version"] == 2
