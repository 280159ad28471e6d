"""Generate and check careflow's committed JSON Schemas and AsyncAPI documents.

Development tooling for the contracts, kept out of ``careflow-contracts`` so that a
downstream system installing the wire format gets pydantic and the models only.

Run ``uv run python -m careflow.schemagen`` (``make schemas``) after changing an event
model, and commit what it writes:

* ``schemas/<EventType>.v<N>.json``: the JSON Schema (draft 2020-12, pydantic
  *validation* mode, i.e. what ``parse_event`` accepts) of every event at its
  current ``schema_version``. Files of older versions are kept, never deleted.
* ``schemas/envelope.json``: the fields every event carries.
* ``asyncapi/<service>.json``: one AsyncAPI 3.0 document per service, with the
  topic it publishes and the topics it consumes.

If a committed schema of the *same* event and version would change in a way
that breaks readers (``breaking_changes``) the generator refuses: bump
``schema_version`` and register an upcaster instead. ``--check`` writes
nothing and fails if anything is stale, missing or breaking (``make test`` runs it).

Paths are relative to the contracts project (``contracts/``), found from the
installed ``careflow.contracts``; ``--root`` points elsewhere. Besides the
contracts this package uses the standard library only.
"""

from .compat import breaking_changes
from .documents import (
    asyncapi_document,
    envelope_schema,
    event_schema,
    event_type_of,
    render,
    schema_filename,
    schema_version_of,
)
from .generate import (
    BUMP_ADVICE,
    REGENERATE,
    Plan,
    default_root,
    generated_files,
    main,
    missing_upcasters,
    plan,
    run,
)

__all__ = [
    "BUMP_ADVICE",
    "REGENERATE",
    "Plan",
    "asyncapi_document",
    "breaking_changes",
    "default_root",
    "envelope_schema",
    "event_schema",
    "event_type_of",
    "generated_files",
    "main",
    "missing_upcasters",
    "plan",
    "render",
    "run",
    "schema_filename",
    "schema_version_of",
]
