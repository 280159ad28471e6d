"""The JSON Schema of questionnaire files, generated from ``document``'s models.

It is committed next to the shipped questionnaires (``questionnaire.schema.json``)
for editors and other tools; a test fails while it is stale. Rewrite it with
``python -m careflow.triage.questionnaire.schema``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from careflow.triage.questionnaire.document import QuestionnaireDocument

#: The committed schema.
SCHEMA_PATH = Path(__file__).parent.parent / "questionnaires" / "questionnaire.schema.json"


def _without_null_defaults(node: Any) -> Any:
    # A key that may only be left out has no default worth stating (null is not allowed).
    if isinstance(node, dict):
        return {
            k: _without_null_defaults(v)
            for k, v in node.items()
            if not (k == "default" and v is None)
        }
    if isinstance(node, list):
        return [_without_null_defaults(v) for v in node]
    return node


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a questionnaire file."""
    schema = _without_null_defaults(QuestionnaireDocument.model_json_schema())
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def schema_text() -> str:
    """``json_schema()`` as the committed file holds it."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Rewrite the committed schema from the models."""
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")


if __name__ == "__main__":
    main()
