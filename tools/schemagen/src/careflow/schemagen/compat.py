"""Tell whether a new JSON Schema rejects messages an old one accepted (a breaking change).

Used by ``generate`` to refuse overwriting a committed schema of the same event and
version with one that would break readers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

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
