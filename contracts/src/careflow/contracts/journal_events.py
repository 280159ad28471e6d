"""Events owned by journal: its signed checkpoints, staff corrections of entries, and the
patient's consent to another care provider reading a case's entries, and the patient's block
(spärr) on them (Lag 2022:913)."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from .envelope import Event
from .vocabulary import Professional

#: The key (``case_id``) of log-wide journal events that belong to no one case.
JOURNAL_LOG_KEY = UUID(int=0)


class JournalCheckpointed(Event):
    """The journal signed the state of its whole record (Ed25519).

    ``merkle_root`` commits to every chain of every case at this point: the head
    hash and length of each (case, lane) chain, sorted, as the leaves of a Merkle
    tree. Checkpoints form a chain of their own through ``previous_checkpoint_hash``.
    ``case_id`` is ``JOURNAL_LOG_KEY``: a checkpoint belongs to the log, not a case.
    """

    OWNER: ClassVar[str] = "journal"
    event_type: Literal["JournalCheckpointed"] = "JournalCheckpointed"
    schema_version: Literal[1] = 1

    checkpoint_number: int = Field(ge=1)
    entries: int = Field(ge=0, description="Entries in the record when it was signed.")
    chains: int = Field(ge=0, description="(case, lane) chains covered.")
    merkle_root: str = Field(pattern=r"^[0-9a-f]{64}$")
    previous_checkpoint_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    checkpoint_hash: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="sha256 of the signed statement."
    )
    signature: str = Field(description="Ed25519 signature of the statement, hex.")
    public_key: str = Field(description="The signer's raw Ed25519 public key, hex.")


class JournalEntryCorrected(Event):
    """A professional corrected a journal entry; the original stays as it was."""

    OWNER: ClassVar[str] = "journal"
    event_type: Literal["JournalEntryCorrected"] = "JournalEntryCorrected"
    schema_version: Literal[1] = 1

    corrects_event_id: UUID = Field(description="source_event_id of the corrected entry.")
    corrects_entry_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    reason: str = Field(min_length=1, max_length=2000)
    correction: str = Field(min_length=1, max_length=20000)
    professional: Professional


class JournalNoteSigned(Event):
    """The responsible professional signed a documentation note: an act of its own, with
    its time (``occurred_at``) and signer, recorded as an entry next to the note."""

    OWNER: ClassVar[str] = "journal"
    event_type: Literal["JournalNoteSigned"] = "JournalNoteSigned"
    schema_version: Literal[1] = 1

    signs_event_id: UUID = Field(description="source_event_id of the signed note's entry.")
    signs_entry_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    professional: Professional


class ConsentGiven(Event):
    """The patient (or a guardian for a child) let another care provider read this case's entries.

    A care provider is a region (the vårdgivare); its staff read the entries its own
    care units wrote without consent. ``actor`` is the patient, or the guardian with
    ``on_behalf_of`` naming the child. Active until a later ``ConsentWithdrawn``.
    """

    OWNER: ClassVar[str] = "journal"
    event_type: Literal["ConsentGiven"] = "ConsentGiven"
    schema_version: Literal[1] = 1

    patient_id: str = Field(min_length=1, max_length=128, description="Opaque patient id.")
    provider: str = Field(
        min_length=1, max_length=64, description="The care provider (region) allowed to read."
    )


class ConsentWithdrawn(Event):
    """The patient (or guardian) withdrew a care provider's consent to read this case's entries."""

    OWNER: ClassVar[str] = "journal"
    event_type: Literal["ConsentWithdrawn"] = "ConsentWithdrawn"
    schema_version: Literal[1] = 1

    patient_id: str = Field(min_length=1, max_length=128, description="Opaque patient id.")
    provider: str = Field(min_length=1, max_length=64, description="The care provider (region).")


class JournalBlockPlaced(Event):
    """The patient (or guardian) blocked this case's entries from every other care provider
    (spärr, Lag 2022:913).

    While blocked, other providers' staff see that entries are withheld but not the
    entries, whatever consent was given and even in an emergency; the provider that
    wrote them is not affected.
    """

    OWNER: ClassVar[str] = "journal"
    event_type: Literal["JournalBlockPlaced"] = "JournalBlockPlaced"
    schema_version: Literal[1] = 1

    patient_id: str = Field(min_length=1, max_length=128, description="Opaque patient id.")


class JournalBlockLifted(Event):
    """The patient (or guardian) lifted the block on this case's entries; consent applies again."""

    OWNER: ClassVar[str] = "journal"
    event_type: Literal["JournalBlockLifted"] = "JournalBlockLifted"
    schema_version: Literal[1] = 1

    patient_id: str = Field(min_length=1, max_length=128, description="Opaque patient id.")


#: The events this module defines, collected by the registry.
EVENTS: tuple[type[Event], ...] = (
    JournalCheckpointed,
    JournalEntryCorrected,
    JournalNoteSigned,
    ConsentGiven,
    ConsentWithdrawn,
    JournalBlockPlaced,
    JournalBlockLifted,
)
