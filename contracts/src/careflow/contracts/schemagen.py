"""Generate and check the committed JSON Schemas and AsyncAPI documents.

Run ``uv run python -m careflow.contracts.schemagen`` after changing an event
model, and commit what it writes:

* ``schemas/<EventType>.v<N>.json``: the JSON Schema (draft 2020-12, pydantic
  *validation* mode, i.e. what ``parse_event`` accepts) of every event at its
  current ``schema_version``. Files of older versions are kept, never deleted.
* ``schemas/envelope.json``: the fields every event carries.
* ``asyncapi/<service>.json``: one AsyncAPI 3.0 document per service, with the
  topic it publishes and the topics it consumes.

If a committed schema of the *same* event and version would change in a way
that breaks readers (see ``breaking_changes``) the generator refuses: bump
``schema_version`` and register an upcaster instead. ``--check`` writes
nothing and fails if anything is stale, missing or breaking (CI runs it).

Paths are relative to the contracts project (``contracts/``), found from this
file; ``--root`` points elsewhere. This module uses the standard library only.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from .envelope import Event
from .registry import EVENT_TYPES, PARTITIONS, SERVICES, SUBSCRIPTIONS, topic_for_service
from .upcasting import UPCASTERS

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"

#: Envelope fields that every producer sends and every consumer routes or
#: deduplicates on. The models give them defaults (so Python producers need not
#: set them) but on the wire they are always present, so the schemas require them.
WIRE_REQUIRED = ("event_id", "event_type", "schema_version")

BUMP_ADVICE = "bump schema_version and add an upcaster"
REGENERATE = "uv run python -m careflow.contracts.schemagen"


# --- rendering ----------------------------------------------------------------------------


def render(document: Mapping[str, Any]) -> str:
    """The committed text of a generated document: sorted keys, indent 2, final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_version_of(model: type[Event]) -> int:
    """The ``schema_version`` constant of an event model."""
    version = model.model_fields["schema_version"].default
    if not isinstance(version, int) or isinstance(version, bool):
        raise TypeError(f"{model.__name__}.schema_version has no integer default")
    return version


def event_type_of(model: type[Event]) -> str:
    """The ``event_type`` constant of an event model."""
    event_type = model.model_fields["event_type"].default
    if not isinstance(event_type, str):
        raise TypeError(f"{model.__name__}.event_type has no string default")
    return event_type


def schema_filename(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.json"


def _require_wire_fields(schema: dict[str, Any], model: type[Event]) -> None:
    required = set(schema.get("required", ())) | set(WIRE_REQUIRED)
    schema["required"] = [name for name in model.model_fields if name in required]


def event_schema(model: type[Event]) -> dict[str, Any]:
    """The JSON Schema of one event model, as committed."""
    schema = model.model_json_schema(mode="validation")
    _require_wire_fields(schema, model)
    schema["$schema"] = JSON_SCHEMA_DIALECT
    return schema


def envelope_schema() -> dict[str, Any]:
    """The JSON Schema of the envelope: what every event has, whatever its type.

    Unlike an event schema it allows further properties (each event type adds
    its own), and ``event_type``/``schema_version`` are free, not constants.
    """
    schema = Event.model_json_schema(mode="validation")
    _require_wire_fields(schema, Event)
    schema.pop("additionalProperties", None)
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["title"] = "Envelope"
    return schema


# --- AsyncAPI -----------------------------------------------------------------------------


def _camel(*words: str) -> str:
    parts = [p for w in words for p in w.replace("-", "_").split("_") if p]
    return parts[0].lower() + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def _channel_id(service: str) -> str:
    return _camel(service, "events")


def _rewrite_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = prefix + value.removeprefix("#/$defs/")
            else:
                out[key] = _rewrite_refs(value, prefix)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, prefix) for item in node]
    return node


def _hoist(name: str, schema: Mapping[str, Any], schemas: dict[str, Any]) -> None:
    """Put an event schema and its ``$defs`` into ``components.schemas``."""
    prefix = "#/components/schemas/"
    body = copy.deepcopy(dict(schema))
    defs = body.pop("$defs", {})
    body.pop("$schema", None)
    for def_name, definition in [*defs.items(), (name, body)]:
        rewritten = _rewrite_refs(definition, prefix)
        if def_name in schemas and schemas[def_name] != rewritten:
            raise ValueError(f"two different schemas are both called {def_name!r}")
        schemas[def_name] = rewritten


def _summary(model: type[Event]) -> str:
    doc = (model.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else event_type_of(model)


def _message(model: type[Event]) -> dict[str, Any]:
    event_type = event_type_of(model)
    version = schema_version_of(model)
    return {
        "name": event_type,
        "title": f"{event_type} v{version}",
        "summary": _summary(model),
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{event_type}"},
        "correlationId": {
            "description": "Shared by every event of one user journey.",
            "location": "$message.payload#/correlation_id",
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "format": "uuid",
                    "description": (
                        "The event's case_id as UTF-8 text, so that one case's events "
                        "keep their order within the topic."
                    ),
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "x-schema-version": version,
        "x-schema-file": f"../schemas/{schema_filename(event_type, version)}",
    }


def _models_by_owner() -> dict[str, list[type[Event]]]:
    owned: dict[str, list[type[Event]]] = {service: [] for service in SERVICES}
    for model in EVENT_TYPES.values():
        owned.setdefault(model.OWNER, []).append(model)
    return owned


def _package_version() -> str:
    try:
        return metadata.version("careflow-contracts")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare tree
        return "0.0.0"


def asyncapi_document(service: str) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of one service: what it publishes and consumes."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    owned = _models_by_owner()
    consumed = [EVENT_TYPES[name] for name in SUBSCRIPTIONS.get(service, ())]
    consumed_owners = sorted({model.OWNER for model in consumed})

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}

    def add_channel(owner: str, description: str) -> str:
        channel_id = _channel_id(owner)
        topic = topic_for_service(owner)
        channel_messages: dict[str, Any] = {}
        for model in owned[owner]:
            event_type = event_type_of(model)
            channel_messages[event_type] = {"$ref": f"#/components/messages/{event_type}"}
            messages[event_type] = _message(model)
            _hoist(event_type, event_schema(model), schemas)
        channels[channel_id] = {
            "address": topic,
            "title": topic,
            "description": description,
            "messages": channel_messages,
            "bindings": {
                "kafka": {
                    "topic": topic,
                    "partitions": PARTITIONS,
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        return channel_id

    own_channel = add_channel(
        service,
        f"The topic {service} owns: only {service} writes to it. Every message is one "
        "JSON event keyed by its case_id.",
    )
    if owned[service]:
        operations[_camel("send", service, "events")] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{own_channel}"},
            "summary": f"{service} publishes its events.",
            "messages": [
                {"$ref": f"#/channels/{own_channel}/messages/{event_type_of(model)}"}
                for model in owned[service]
            ],
        }
    for owner in consumed_owners:
        channel_id = add_channel(
            owner,
            f"The topic {owner} owns. {service} reads only the events its receive "
            "operation lists and skips the rest.",
        )
        operations[_camel("receive", owner, "events")] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{service} consumes these {owner} events.",
            "messages": [
                {"$ref": f"#/channels/{channel_id}/messages/{event_type_of(model)}"}
                for model in consumed
                if owner == model.OWNER
            ],
        }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": f"careflow {service}",
            "version": _package_version(),
            "description": (
                f"The Kafka events the careflow {service} service publishes and consumes. "
                "Generated from careflow.contracts by careflow.contracts.schemagen; "
                "do not edit."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


# --- compatibility ------------------------------------------------------------------------

_LOWER_BOUNDS = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")
_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _types(schema: Mapping[str, Any]) -> frozenset[str] | None:
    """The JSON types a schema admits; ``None`` for any."""
    if "type" in schema:
        declared = schema["type"]
        return frozenset(declared if isinstance(declared, list) else [declared])
    if "const" in schema:
        return frozenset([_json_type(schema["const"])])
    if "enum" in schema:
        return frozenset(_json_type(v) for v in schema["enum"])
    if "properties" in schema:
        return frozenset(["object"])
    if "items" in schema or "prefixItems" in schema:
        return frozenset(["array"])
    return None


def _covers(new: frozenset[str] | None, old: frozenset[str] | None) -> bool:
    if new is None:
        return True
    if old is None:
        return False
    return all(t in new or (t == "integer" and "number" in new) for t in old)


def _values(schema: Mapping[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _describe(schema: Any) -> str:
    if schema is True or schema == {}:
        return "any"
    if schema is False:
        return "nothing"
    types = _types(schema)
    text = "|".join(sorted(types)) if types is not None else "any"
    if "format" in schema:
        text += f"({schema['format']})"
    return text


class _Checker:
    def __init__(self, old_root: Mapping[str, Any], new_root: Mapping[str, Any]) -> None:
        self.roots = (old_root, new_root)
        self.changes: list[str] = []

    def fork(self) -> _Checker:
        return _Checker(*self.roots)

    def report(self, message: str) -> None:
        self.changes.append(message)

    @staticmethod
    def _where(path: str) -> str:
        return path or "(root)"

    def resolve(self, schema: Any, root: Mapping[str, Any]) -> tuple[Any, str | None]:
        """Follow ``$ref`` (merging sibling keywords) and unwrap one-element ``allOf``."""
        ref: str | None = None
        seen: set[str] = set()
        while isinstance(schema, Mapping):
            if "$ref" in schema:
                target_ref = str(schema["$ref"])
                if target_ref in seen or not target_ref.startswith("#"):
                    break
                seen.add(target_ref)
                ref = ref or target_ref
                target: Any = root
                for part in target_ref.lstrip("#").split("/")[1:]:
                    target = target[part.replace("~1", "/").replace("~0", "~")]
                siblings = {k: v for k, v in schema.items() if k != "$ref"}
                schema = {**target, **siblings} if isinstance(target, Mapping) else target
            elif "allOf" in schema and len(schema["allOf"]) == 1:
                siblings = {k: v for k, v in schema.items() if k != "allOf"}
                schema = {**siblings, **schema["allOf"][0]}
            else:
                break
        return schema, ref

    def alternatives(self, schema: Any, root: Mapping[str, Any]) -> list[Any]:
        resolved, _ = self.resolve(schema, root)
        if isinstance(resolved, Mapping):
            for keyword in ("anyOf", "oneOf"):
                if keyword in resolved:
                    return [alt for b in resolved[keyword] for alt in self.alternatives(b, root)]
        return [resolved]

    def compare(self, old: Any, new: Any, path: str, stack: frozenset[tuple[str, str]]) -> None:
        old_root, new_root = self.roots
        old, old_ref = self.resolve(old, old_root)
        new, new_ref = self.resolve(new, new_root)
        if old_ref is not None and new_ref is not None:
            if (old_ref, new_ref) in stack:
                return
            stack = stack | {(old_ref, new_ref)}
        if new is True or old is False:
            return
        if new is False:
            self.report(f"type changed at {self._where(path)}: {_describe(old)} -> nothing")
            return
        if old is True:
            old = {}
        old_alts = self.alternatives(old, old_root)
        new_alts = self.alternatives(new, new_root)
        if len(old_alts) > 1 or len(new_alts) > 1:
            self._compare_alternatives(old, new, old_alts, new_alts, path, stack)
        else:
            self._compare_one(old, new, path, stack)

    def _compare_alternatives(
        self,
        old: Any,
        new: Any,
        old_alts: list[Any],
        new_alts: list[Any],
        path: str,
        stack: frozenset[tuple[str, str]],
    ) -> None:
        for old_alt in old_alts:
            candidates = [
                alt
                for alt in new_alts
                if alt is True
                or (
                    isinstance(alt, Mapping)
                    and isinstance(old_alt, Mapping)
                    and _covers(_types(alt), _types(old_alt))
                )
            ]
            if not candidates:
                self.report(
                    f"type changed at {self._where(path)}: "
                    f"{_describe_all(old_alts)} -> {_describe_all(new_alts)}"
                )
                return
            best: list[str] | None = None
            for candidate in candidates:
                trial = self.fork()
                trial.compare(old_alt, candidate, path, stack)
                if best is None or len(trial.changes) < len(best):
                    best = trial.changes
                if not best:
                    break
            self.changes.extend(best or [])

    def _compare_one(
        self,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        path: str,
        stack: frozenset[tuple[str, str]],
    ) -> None:
        where = self._where(path)
        old_types, new_types = _types(old), _types(new)
        if not _covers(new_types, old_types):
            self.report(f"type changed at {where}: {_describe(old)} -> {_describe(new)}")
            return

        new_values, old_values = _values(new), _values(old)
        if new_values is not None:
            if old_values is None:
                self.report(f"type changed at {where}: restricted to {new_values!r}")
            elif "const" in old and "const" in new:
                if not _same(old["const"], new["const"]):
                    self.report(f"const changed at {where}: {old['const']!r} -> {new['const']!r}")
            else:
                removed = [v for v in old_values if not any(_same(v, w) for w in new_values)]
                if removed:
                    self.report(f"enum values removed at {where}: {removed!r}")

        if "format" in new and new.get("format") != old.get("format"):
            self.report(f"format changed at {where}: {old.get('format')} -> {new['format']}")
        self._compare_constraints(old, new, where)

        if "properties" in old or "properties" in new or "required" in new:
            self._compare_object(old, new, path, stack)
        if "items" in new:
            self.compare(old.get("items", True), new["items"], f"{path}[]", stack)
        for index, item in enumerate(new.get("prefixItems", ())):
            old_items = old.get("prefixItems", ())
            old_item = old_items[index] if index < len(old_items) else old.get("items", True)
            self.compare(old_item, item, f"{path}[{index}]", stack)

    def _compare_constraints(
        self, old: Mapping[str, Any], new: Mapping[str, Any], where: str
    ) -> None:
        for keyword in _LOWER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
                self.report(
                    f"constraint tightened at {where}: {keyword} {old.get(keyword)} -> "
                    f"{new[keyword]}"
                )
        for keyword in _UPPER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
                self.report(
                    f"constraint tightened at {where}: {keyword} {old.get(keyword)} -> "
                    f"{new[keyword]}"
                )
        for keyword in ("pattern", "multipleOf"):
            if keyword in new and new[keyword] != old.get(keyword):
                self.report(
                    f"constraint changed at {where}: {keyword} {old.get(keyword)!r} -> "
                    f"{new[keyword]!r}"
                )
        if new.get("uniqueItems") and not old.get("uniqueItems"):
            self.report(f"constraint tightened at {where}: items must now be unique")

    def _compare_object(
        self,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        path: str,
        stack: frozenset[tuple[str, str]],
    ) -> None:
        old_props: Mapping[str, Any] = old.get("properties", {})
        new_props: Mapping[str, Any] = new.get("properties", {})
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))

        def child(name: str) -> str:
            return f"{path}.{name}" if path else name

        for name, old_prop in old_props.items():
            if name not in new_props:
                self.report(f"removed property: {child(name)}")
                continue
            if name in new_required and name not in old_required:
                self.report(f"property became required: {child(name)}")
            self.compare(old_prop, new_props[name], child(name), stack)
        for name in new_props:
            if name not in old_props and name in new_required:
                self.report(f"new required property: {child(name)}")
        for name in sorted(new_required - set(new_props) - old_required):
            self.report(f"new required property: {child(name)}")

        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        if new_extra is False and old_extra is not False:
            self.report(f"additional properties no longer allowed at {self._where(path)}")
        elif isinstance(new_extra, Mapping) and old_extra is not False:
            self.compare(old_extra, new_extra, f"{path}.*" if path else "*", stack)


def _describe_all(alternatives: Iterable[Any]) -> str:
    return "|".join(dict.fromkeys(_describe(alt) for alt in alternatives))


def breaking_changes(old_schema: Mapping[str, Any], new_schema: Mapping[str, Any]) -> list[str]:
    """How ``new_schema`` would reject messages that ``old_schema`` accepted.

    Reported: removed (or renamed) properties, changed types (including removed
    enum values, a changed const or format), tightened constraints, properties
    that became required and new required properties, at any depth, following
    ``$ref`` into ``$defs``. Adding an optional property, widening a type or
    adding enum values is not breaking. Returns one line per change, in order.
    """
    checker = _Checker(old_schema, new_schema)
    checker.compare(old_schema, new_schema, "", frozenset())
    return list(dict.fromkeys(checker.changes))


# --- generation ---------------------------------------------------------------------------


def default_root() -> Path:
    """The contracts project directory: ``contracts/src/careflow/contracts/../../..``."""
    return Path(__file__).resolve().parents[3]


def generated_files(root: Path) -> dict[Path, str]:
    """Every file the generator owns under ``root``, with its expected text."""
    files: dict[Path, str] = {}
    schemas_dir = root / "schemas"
    for event_type in sorted(EVENT_TYPES):
        model = EVENT_TYPES[event_type]
        name = schema_filename(event_type, schema_version_of(model))
        files[schemas_dir / name] = render(event_schema(model))
    files[schemas_dir / "envelope.json"] = render(envelope_schema())
    for service in SERVICES:
        files[root / "asyncapi" / f"{service}.json"] = render(asyncapi_document(service))
    return files


def missing_upcasters() -> list[str]:
    """Every older schema version of a current event that nothing can lift."""
    problems = []
    for event_type in sorted(EVENT_TYPES):
        for version in range(1, schema_version_of(EVENT_TYPES[event_type])):
            if (event_type, version) not in UPCASTERS:
                problems.append(f"{event_type}: no upcaster from schema_version {version}")
    return problems


@dataclass
class Plan:
    """What generating would do under one root."""

    root: Path
    files: dict[Path, str]
    missing: list[Path] = field(default_factory=list)
    stale: list[Path] = field(default_factory=list)
    breaking: dict[Path, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def to_write(self) -> list[Path]:
        return [*self.missing, *self.stale]


def plan(root: Path) -> Plan:
    """Compare the generated files with those committed under ``root``."""
    result = Plan(root=root, files=generated_files(root))
    schemas_dir = root / "schemas"
    for path, text in result.files.items():
        if not path.exists():
            result.missing.append(path)
            continue
        committed = path.read_text(encoding="utf-8")
        if committed == text:
            continue
        result.stale.append(path)
        if path.parent != schemas_dir:
            continue
        try:
            old = json.loads(committed)
        except json.JSONDecodeError as exc:
            result.errors.append(
                f"{path}: committed file is not JSON ({exc}); delete it and regenerate"
            )
            continue
        changes = breaking_changes(old, json.loads(text))
        if changes:
            result.breaking[path] = changes
    result.errors.extend(missing_upcasters())
    return result


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def run(root: Path, *, check: bool = False, out: TextIO | None = None) -> int:
    """Generate (or with ``check`` only verify) under ``root``; returns the exit code."""
    out = out if out is not None else sys.stdout
    result = plan(root)
    failed = False
    for path, changes in result.breaking.items():
        failed = True
        print(f"BREAKING {_display(path, root)}:", file=out)
        for change in changes:
            print(f"  - {change}", file=out)
    if result.breaking:
        print(
            f"refusing to overwrite a committed schema with a breaking change: {BUMP_ADVICE}.",
            file=out,
        )
    for error in result.errors:
        failed = True
        print(f"ERROR {error}", file=out)
    if check:
        for path in result.missing:
            failed = True
            print(f"MISSING {_display(path, root)}", file=out)
        for path in result.stale:
            if path not in result.breaking:
                failed = True
                print(f"STALE {_display(path, root)}", file=out)
        if failed:
            print(f"contracts are not up to date; run: {REGENERATE}", file=out)
            return 1
        print(f"contracts up to date ({len(result.files)} files)", file=out)
        return 0
    if failed:
        print("nothing written", file=out)
        return 1
    for path in result.to_write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(result.files[path], encoding="utf-8")
        print(f"wrote {_display(path, root)}", file=out)
    print(f"contracts up to date ({len(result.files)} files)", file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m careflow.contracts.schemagen",
        description="Generate careflow's event JSON Schemas and AsyncAPI documents.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; fail if a file is stale or missing or a change is breaking",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help="the contracts project directory (default: found from this module)",
    )
    args = parser.parse_args(argv)
    root: Path = args.root if args.root is not None else default_root()
    if args.root is None and not (root / "pyproject.toml").is_file():
        parser.error(f"cannot find the contracts project at {root}; pass --root")
    return run(root.resolve(), check=args.check)


if __name__ == "__main__":
    sys.exit(main())
