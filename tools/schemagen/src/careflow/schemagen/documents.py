"""The committed documents: each event's JSON Schema, the envelope's, and each service's AsyncAPI.

Everything here is a pure function of the models in ``careflow.contracts``; writing the
files and checking them is ``generate``'s job.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from careflow.contracts.envelope import Event
from careflow.contracts.registry import (
    EVENT_TYPES,
    PARTITIONS,
    RESTRICTED_TOPICS,
    SERVICES,
    SUBSCRIPTIONS,
    topic_for_event,
    topic_for_service,
    topics_written_by,
)

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"

#: Envelope fields that every producer sends and every consumer routes or
#: deduplicates on. The models give them defaults (so Python producers need not
#: set them) but on the wire they are always present, so the schemas require them.
WIRE_REQUIRED = ("event_id", "event_type", "schema_version")


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
    """The committed file name of one event's schema at one version."""
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


def _topic_words(topic: str) -> tuple[str, ...]:
    # "careflow.triage.events" -> ("triage", "events"): channel and operation names.
    return tuple(topic.removeprefix("careflow.").split("."))


def _channel_id(topic: str) -> str:
    return _camel(*_topic_words(topic))


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


def _models_by_topic() -> dict[str, list[type[Event]]]:
    on: dict[str, list[type[Event]]] = {topic_for_service(service): [] for service in SERVICES}
    for event_type, model in EVENT_TYPES.items():
        on.setdefault(topic_for_event(event_type), []).append(model)
    return on


def _readers_note(topic: str) -> str:
    readers = {t: r for t, r in RESTRICTED_TOPICS.values()}.get(topic)
    if readers is None:
        return ""
    return (
        " Restricted: it names people by personal identity number, and only "
        f"{', '.join(readers)} may read it."
    )


def _package_version() -> str:
    try:
        return metadata.version("careflow-contracts")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare tree
        return "0.0.0"


def asyncapi_document(service: str) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of one service: what it publishes and consumes."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    on_topic = _models_by_topic()
    consumed = [EVENT_TYPES[name] for name in SUBSCRIPTIONS.get(service, ())]
    consumed_topics = sorted({topic_for_event(event_type_of(model)) for model in consumed})

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}

    def add_channel(topic: str, description: str) -> str:
        channel_id = _channel_id(topic)
        channel_messages: dict[str, Any] = {}
        for model in on_topic[topic]:
            event_type = event_type_of(model)
            channel_messages[event_type] = {"$ref": f"#/components/messages/{event_type}"}
            messages[event_type] = _message(model)
            _hoist(event_type, event_schema(model), schemas)
        channels[channel_id] = {
            "address": topic,
            "title": topic,
            "description": description + _readers_note(topic),
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

    for topic in topics_written_by(service):
        own_channel = add_channel(
            topic,
            f"A topic {service} owns: only {service} writes to it. Every message is one "
            "JSON event keyed by its case_id.",
        )
        if on_topic[topic]:
            operations[_camel("send", *_topic_words(topic))] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{own_channel}"},
                "summary": f"{service} publishes these events.",
                "messages": [
                    {"$ref": f"#/channels/{own_channel}/messages/{event_type_of(model)}"}
                    for model in on_topic[topic]
                ],
            }
    for topic in consumed_topics:
        owner = on_topic[topic][0].OWNER
        channel_id = add_channel(
            topic,
            f"A topic {owner} owns. {service} reads only the events its receive "
            "operation lists and skips the rest.",
        )
        operations[_camel("receive", *_topic_words(topic))] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{service} consumes these {owner} events.",
            "messages": [
                {"$ref": f"#/channels/{channel_id}/messages/{event_type_of(model)}"}
                for model in consumed
                if topic_for_event(event_type_of(model)) == topic
            ],
        }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": f"careflow {service}",
            "version": _package_version(),
            "description": (
                f"The Kafka events the careflow {service} service publishes and consumes. "
                "Generated from careflow.contracts by careflow.schemagen; "
                "do not edit."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
