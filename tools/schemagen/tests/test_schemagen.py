"""The committed JSON Schemas and AsyncAPI documents, and the generator that writes them."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from careflow.contracts import (
    EVENT_TYPES,
    PARTITIONS,
    SERVICES,
    SUBSCRIPTIONS,
    topic_for_event,
    topic_for_service,
    topics_written_by,
)
from careflow.schemagen import (
    BUMP_ADVICE,
    default_root,
    event_schema,
    main,
    render,
    run,
    schema_version_of,
)

pytestmark = [pytest.mark.foundation, pytest.mark.unit]

ROOT = default_root()


def _run(root: Path, *, check: bool) -> tuple[int, str]:
    out = io.StringIO()
    code = run(root, check=check, out=out)
    return code, out.getvalue()


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def committed_copy(tmp_path: Path) -> Path:
    """A scratch copy of the committed schemas and AsyncAPI documents."""
    for name in ("schemas", "asyncapi"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


# --- the committed files ------------------------------------------------------------------


def test_committed_schemas_and_asyncapi_documents_are_up_to_date() -> None:
    code, output = _run(ROOT, check=True)
    assert code == 0, (
        "the committed contracts are stale; run `uv run python -m careflow.schemagen` "
        f"and commit the result:\n{output}"
    )


def test_default_root_is_the_contracts_project() -> None:
    assert 'name = "careflow-contracts"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_committed_event_schema_pins_type_and_version(event_type: str) -> None:
    model = EVENT_TYPES[event_type]
    version = schema_version_of(model)
    schema = json.loads((ROOT / "schemas" / f"{event_type}.v{version}.json").read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["event_type"]["const"] == event_type
    assert schema["properties"]["schema_version"]["const"] == version
    assert {"event_id", "event_type", "schema_version", "case_id"} <= set(schema["required"])
    assert schema["additionalProperties"] is False


def test_committed_files_are_rendered_canonically() -> None:
    paths = [*ROOT.glob("schemas/*.json"), *ROOT.glob("asyncapi/*.json")]
    assert paths
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert text == render(json.loads(text)), path.name


def test_envelope_schema_admits_every_event() -> None:
    envelope = json.loads((ROOT / "schemas" / "envelope.json").read_text())
    assert "additionalProperties" not in envelope
    for model in EVENT_TYPES.values():
        schema = event_schema(model)
        assert set(envelope["required"]) <= set(schema["required"])
        assert set(envelope["properties"]) <= set(schema["properties"])


# --- the generator ------------------------------------------------------------------------


def test_check_mode_writes_nothing_and_reports_missing_files(tmp_path: Path) -> None:
    code, output = _run(tmp_path, check=True)
    assert code == 1
    assert "MISSING" in output and "CaseOpened.v2.json" in output
    assert "uv run python -m careflow.schemagen" in output
    assert list(tmp_path.iterdir()) == []


def test_generating_into_an_empty_root_writes_every_file(tmp_path: Path) -> None:
    code, output = _run(tmp_path, check=False)
    assert code == 0, output
    written = _snapshot(tmp_path)
    for service in SERVICES:
        assert f"asyncapi/{service}.json" in written
    for event_type, model in EVENT_TYPES.items():
        assert f"schemas/{event_type}.v{schema_version_of(model)}.json" in written
    assert "schemas/envelope.json" in written
    for name, content in written.items():
        assert content == (ROOT / name).read_bytes(), name
    assert _run(tmp_path, check=True)[0] == 0


def test_check_mode_reports_a_stale_file(committed_copy: Path) -> None:
    doc = committed_copy / "asyncapi" / "queue.json"
    doc.write_text(doc.read_text().replace('"3.0.0"', '"2.6.0"'))
    before = _snapshot(committed_copy)
    code, output = _run(committed_copy, check=True)
    assert code == 1
    assert "STALE" in output and "queue.json" in output
    assert _snapshot(committed_copy) == before
    assert _run(committed_copy, check=False)[0] == 0
    assert doc.read_bytes() == (ROOT / "asyncapi" / "queue.json").read_bytes()


def test_generator_refuses_a_breaking_change_to_a_committed_version(committed_copy: Path) -> None:
    # Pretend the committed v1 had a property the model no longer has: the model lost a field.
    path = committed_copy / "schemas" / "CaseOpened.v2.json"
    schema = json.loads(path.read_text())
    schema["properties"]["legacy_region_code"] = {"type": "string"}
    schema["required"].append("legacy_region_code")
    schema["properties"]["region"]["maxLength"] = 200
    path.write_text(render(schema))
    before = _snapshot(committed_copy)

    for check in (False, True):
        code, output = _run(committed_copy, check=check)
        assert code == 1
        assert "removed property: legacy_region_code" in output
        assert "constraint tightened at region: maxLength 200 -> 64" in output
        assert BUMP_ADVICE in output
        assert _snapshot(committed_copy) == before, "a refused generation must write nothing"


def test_generator_overwrites_a_non_breaking_change(committed_copy: Path) -> None:
    # Pretend the committed v1 lacked an optional property the model has now: that is fine.
    path = committed_copy / "schemas" / "CaseClosed.v1.json"
    schema = json.loads(path.read_text())
    del schema["properties"]["advice"]
    path.write_text(render(schema))

    code, output = _run(committed_copy, check=True)
    assert code == 1 and "STALE" in output and "BREAKING" not in output
    code, output = _run(committed_copy, check=False)
    assert code == 0, output
    assert path.read_bytes() == (ROOT / "schemas" / "CaseClosed.v1.json").read_bytes()


def test_generator_keeps_files_it_does_not_own(committed_copy: Path) -> None:
    old = committed_copy / "schemas" / "CaseOpened.v0.json"
    old.write_text("{}\n")
    assert _run(committed_copy, check=False)[0] == 0
    assert old.read_text() == "{}\n"


def test_main_accepts_a_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--check", "--root", str(tmp_path)]) == 0
    assert "up to date" in capsys.readouterr().out


# --- AsyncAPI structure -------------------------------------------------------------------

COMPONENT_KEY = re.compile(r"^[a-zA-Z0-9\.\-_]+$")


def _asyncapi(service: str) -> dict[str, Any]:
    return json.loads((ROOT / "asyncapi" / f"{service}.json").read_text(encoding="utf-8"))


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"external reference {ref}"
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    if isinstance(node, dict) and set(node) == {"$ref"}:
        return _resolve(doc, node["$ref"])
    return node


def _message_names(doc: dict[str, Any], refs: list[dict[str, str]]) -> set[str]:
    return {_resolve(doc, r["$ref"])["name"] for r in refs}


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_document_structure(service: str) -> None:
    doc = _asyncapi(service)
    assert doc["asyncapi"] == "3.0.0"
    assert set(doc) <= {
        "asyncapi",
        "id",
        "info",
        "servers",
        "defaultContentType",
        "channels",
        "operations",
        "components",
    }
    assert doc["info"]["title"] and doc["info"]["version"]
    for ref in _refs(doc):
        _resolve(doc, ref)
    text = json.dumps(doc)
    assert "$defs" not in text and "$schema" not in text
    for section in ("messages", "schemas"):
        for key in doc["components"][section]:
            assert COMPONENT_KEY.match(key), key
    for channel_id, channel in doc["channels"].items():
        assert re.match(r"^[A-Za-z0-9_\-]+$", channel_id)
        assert channel["address"] == channel["bindings"]["kafka"]["topic"]
        assert channel["bindings"]["kafka"]["partitions"] == PARTITIONS
        for message in channel["messages"].values():
            resolved = _resolve(doc, message["$ref"])
            assert set(resolved) >= {"name", "payload", "contentType", "bindings"}
            key = resolved["bindings"]["kafka"]["key"]
            assert key["format"] == "uuid" and "case_id" in key["description"]
            owner = EVENT_TYPES[resolved["name"]].OWNER
            assert channel["address"] == topic_for_event(resolved["name"])
            assert channel["address"] in topics_written_by(owner)
    for operation in doc["operations"].values():
        assert operation["action"] in {"send", "receive"}
        channel_ref = operation["channel"]["$ref"]
        assert channel_ref.startswith("#/channels/")
        for message in operation["messages"]:
            # AsyncAPI 3.0: an operation's messages must be messages of its channel.
            assert message["$ref"].startswith(channel_ref + "/messages/")


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_document_matches_ownership_and_subscriptions(service: str) -> None:
    doc = _asyncapi(service)
    ops = doc["operations"].values()
    sent = {n for op in ops if op["action"] == "send" for n in _message_names(doc, op["messages"])}
    received = {
        n for op in ops if op["action"] == "receive" for n in _message_names(doc, op["messages"])
    }
    owned = {name for name, model in EVENT_TYPES.items() if service == model.OWNER}
    assert sent == owned
    assert received == set(SUBSCRIPTIONS.get(service, ()))
    own = [c for c in doc["channels"].values() if c["address"] == topic_for_service(service)]
    assert len(own) == 1


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_payloads_are_the_committed_event_schemas(service: str) -> None:
    doc = _asyncapi(service)
    for message in doc["components"]["messages"].values():
        payload = _resolve(doc, message["payload"]["$ref"])
        name = message["name"]
        committed = json.loads(
            (ROOT / "schemas" / f"{name}.v{message['x-schema-version']}.json").read_text()
        )
        expected = json.loads(
            json.dumps(
                {k: v for k, v in committed.items() if k not in {"$defs", "$schema"}}
            ).replace('"#/$defs/', '"#/components/schemas/')
        )
        assert payload == expected
        for def_name, definition in committed.get("$defs", {}).items():
            embedded = json.dumps(doc["components"]["schemas"][def_name], sort_keys=True)
            assert embedded == json.dumps(definition, sort_keys=True).replace(
                '"#/$defs/', '"#/components/schemas/'
            )
