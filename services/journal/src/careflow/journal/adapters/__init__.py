"""Journal's database: the append-only record, its case event log, checkpoints and access log.

Tables, queries and projections; no rules (those are the domain's). One module per
part of the schema:

- ``tables``: the tables as they are now (the migrations never import them);
- ``cases``: each case's event log, its patient, and events parked until it is known;
- ``entries``: appending chained entries and reading them back;
- ``checkpoints``: signed checkpoints, stored and exported;
- ``access_log``: every read of a patient's record;
- ``consents`` and ``corrections``: the journal's own event-store streams.
"""

from careflow.journal.adapters.access_log import access_extract, log_access
from careflow.journal.adapters.audit import access_of_cases, patients_cases, search_cases
from careflow.journal.adapters.cases import (
    case_events,
    park,
    parked_event_ids,
    patient_of,
    pins,
    record_case_events,
    record_patients,
    unpark,
)
from careflow.journal.adapters.checkpoints import (
    CHECKPOINT_STREAM,
    all_leaves,
    checkpoint_from_json,
    checkpoint_to_json,
    latest_checkpoint,
    lock,
    max_entry_id,
    store_checkpoint,
)
from careflow.journal.adapters.consents import (
    CONSENTS,
    consent_stream,
    consents_of,
    project_consents,
)
from careflow.journal.adapters.corrections import CORRECTIONS, corrections_stream
from careflow.journal.adapters.entries import (
    append_entries,
    as_stored,
    entries,
    entry_by_event,
    lane_heads,
    sources,
    stream_lanes,
)
from careflow.journal.adapters.relations import record_relations, relation_of
from careflow.journal.adapters.signatures import (
    SIGNATURES,
    project_signatures,
    signature_stream,
    unsigned_notes,
)
from careflow.journal.adapters.tables import (
    WRITER_ROLE,
    journal_access_log,
    journal_care_relations,
    journal_case_events,
    journal_checkpoints,
    journal_consents,
    journal_entries,
    journal_parked,
    journal_patients,
    schema,
)

__all__ = [
    "CHECKPOINT_STREAM",
    "CONSENTS",
    "CORRECTIONS",
    "SIGNATURES",
    "WRITER_ROLE",
    "access_extract",
    "access_of_cases",
    "all_leaves",
    "append_entries",
    "as_stored",
    "case_events",
    "checkpoint_from_json",
    "checkpoint_to_json",
    "consent_stream",
    "consents_of",
    "corrections_stream",
    "entries",
    "entry_by_event",
    "journal_access_log",
    "journal_care_relations",
    "journal_case_events",
    "journal_checkpoints",
    "journal_consents",
    "journal_entries",
    "journal_parked",
    "journal_patients",
    "lane_heads",
    "latest_checkpoint",
    "lock",
    "log_access",
    "max_entry_id",
    "park",
    "parked_event_ids",
    "patient_of",
    "patients_cases",
    "pins",
    "project_consents",
    "project_signatures",
    "record_case_events",
    "record_patients",
    "record_relations",
    "relation_of",
    "schema",
    "search_cases",
    "signature_stream",
    "sources",
    "store_checkpoint",
    "stream_lanes",
    "unpark",
    "unsigned_notes",
]
