"""Journal rules: which events become entries, their hash chains, checkpoints and verification.

Pure: no I/O, the time and ids passed in. One module per responsibility:

- ``entries``: which events are documented, the entry hash, chaining within a lane;
- ``holdback``: an entry waits (parked) until its case's patient is known;
- ``checkpoints``: the Merkle root over every chain's head, signed and chained;
- ``verification``: recompute the chains and name what was done to them;
- ``corrections``: a correction is a new entry naming the one it corrects;
- ``signing``: the responsible professional signs a note, as an entry of its own;
- ``timeline``: a case's events in causal order and its state at a moment;
- ``consent`` and ``access``: who besides the writing provider reads, and on what ground.

The record's order must not depend on how the journal's consumer happened to
interleave the topics it reads (one case's events come from triage, queue,
chat and journal itself, on four topics). So a case's entries are chained per
*lane*: one lane per source topic (its owning service). Within a lane the order
is the topic partition's order, which Kafka fixes once and for all (every event
is keyed by case id; a relay re-publish is a later duplicate, dropped by event
id). Two journals reading the same topics, live or rebuilt from offset zero,
so build the same chains with the same hashes whatever the interleaving.
Across lanes there is no chaining: for reading, entries are shown in the
canonical order ``(occurred_at, kind rank, event_id)``, which depends only on
the set of entries. Every chain's head is covered by the signed checkpoints'
Merkle tree, so the whole record is still bound together.

The names below are the package's public rules; import them from here.
"""

from careflow.journal.domain.access import (
    AUDIT,
    BLOCKED,
    CARE_RELATION,
    CONSENT,
    DEFAULT_PURPOSE,
    EMERGENCY,
    HIDDEN,
    LICENSED_CLINICAL_TITLES,
    OPERATOR,
    OWN_PROVIDER,
    WITHHELD,
    CareRelation,
    Reader,
    access_basis,
    has_care_relation,
    is_licensed_clinician,
    relations_named,
    require_care_relation,
    require_emergency_allowed,
    require_operator,
    require_stated_reason,
    require_whole_view,
    visible,
)
from careflow.journal.domain.audit import (
    ACCESS_LOG_ACTION,
    SEARCH_ACTION,
    SEARCH_LIMIT,
    Search,
    require_auditor,
    search_of,
)
from careflow.journal.domain.checkpoints import (
    Checkpoint,
    Leaf,
    checkpointed,
    leaf_hash,
    make_checkpoint,
    merkle_root,
    public_key_hex,
)
from careflow.journal.domain.consent import (
    CaseConsents,
    decide_block,
    decide_consent,
    evolve_consents,
    require_own_case,
)
from careflow.journal.domain.corrections import (
    CaseCorrections,
    corrector,
    decide_correction,
    evolve_corrections,
)
from careflow.journal.domain.entries import (
    GENESIS,
    HASH_VERSION,
    KIND_RANK,
    LEGACY_LANE,
    EntryDraft,
    LaneKey,
    StoredEntry,
    by_lane,
    chain,
    display_key,
    draft_for,
    entry_hash,
    extend_lanes,
    lane_of,
)
from careflow.journal.domain.holdback import HoldBack, hold_back, identified, to_release
from careflow.journal.domain.signing import (
    SIGNED_KINDS,
    NoteSignature,
    decide_signature,
    evolve_signature,
    is_overdue,
    signature_id,
)
from careflow.journal.domain.timeline import CaseState, causal_order, evolve_case, state_at
from careflow.journal.domain.verification import (
    Problem,
    Verification,
    missing_chains,
    verify_case,
    verify_checkpoint,
    verify_lane,
)

__all__ = [
    "ACCESS_LOG_ACTION",
    "AUDIT",
    "BLOCKED",
    "CARE_RELATION",
    "CONSENT",
    "DEFAULT_PURPOSE",
    "EMERGENCY",
    "GENESIS",
    "HASH_VERSION",
    "HIDDEN",
    "KIND_RANK",
    "LEGACY_LANE",
    "LICENSED_CLINICAL_TITLES",
    "OPERATOR",
    "OWN_PROVIDER",
    "SEARCH_ACTION",
    "SEARCH_LIMIT",
    "SIGNED_KINDS",
    "WITHHELD",
    "CareRelation",
    "CaseConsents",
    "CaseCorrections",
    "CaseState",
    "Checkpoint",
    "EntryDraft",
    "HoldBack",
    "LaneKey",
    "Leaf",
    "NoteSignature",
    "Problem",
    "Reader",
    "Search",
    "StoredEntry",
    "Verification",
    "access_basis",
    "by_lane",
    "causal_order",
    "chain",
    "checkpointed",
    "corrector",
    "decide_block",
    "decide_consent",
    "decide_correction",
    "decide_signature",
    "display_key",
    "draft_for",
    "entry_hash",
    "evolve_case",
    "evolve_consents",
    "evolve_corrections",
    "evolve_signature",
    "extend_lanes",
    "has_care_relation",
    "hold_back",
    "identified",
    "is_licensed_clinician",
    "is_overdue",
    "lane_of",
    "leaf_hash",
    "make_checkpoint",
    "merkle_root",
    "missing_chains",
    "public_key_hex",
    "relations_named",
    "require_auditor",
    "require_care_relation",
    "require_emergency_allowed",
    "require_operator",
    "require_own_case",
    "require_stated_reason",
    "require_whole_view",
    "search_of",
    "signature_id",
    "state_at",
    "to_release",
    "verify_case",
    "verify_checkpoint",
    "verify_lane",
    "visible",
]
