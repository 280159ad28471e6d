"""Events owned by identity: the audit trail of logins and of acting for a child.

Identity's login events are not about a care case: their ``case_id`` is the login
session's id (one per e-ID order), which keys them on identity's topic. They
name people by pseudonymous subject ids only, never by personal identity number.

The one exception is ``CasePatientIdentified``: the journal must name a case's patient
by number, and only the journal may learn it, so that event has a topic of its own
that only the journal reads (``registry.RESTRICTED_TOPICS``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .envelope import Event


class LoginSucceeded(Event):
    """A person logged in with e-ID (``realm``: patient or staff)."""

    OWNER: ClassVar[str] = "identity"
    event_type: Literal["LoginSucceeded"] = "LoginSucceeded"
    schema_version: Literal[1] = 1

    subject_id: str = Field(min_length=1, max_length=128)
    realm: Literal["patient", "staff"]
    method: str = Field(min_length=1, max_length=32, description="e.g. test-eid, oidc.")


class LoginRefused(Event):
    """An e-ID login was completed but a rule refused the person (or the order failed)."""

    OWNER: ClassVar[str] = "identity"
    event_type: Literal["LoginRefused"] = "LoginRefused"
    schema_version: Literal[1] = 1

    subject_id: str | None = Field(default=None, max_length=128)
    realm: Literal["patient", "staff"]
    reason: str = Field(min_length=1, max_length=64, description="A refusal code, no free text.")


class ActingForChildStarted(Event):
    """A guardian started acting for a child (both by pseudonymous subject id)."""

    OWNER: ClassVar[str] = "identity"
    event_type: Literal["ActingForChildStarted"] = "ActingForChildStarted"
    schema_version: Literal[1] = 1

    guardian_id: str = Field(min_length=1, max_length=128)
    child_id: str = Field(min_length=1, max_length=128)


class CasePatientIdentified(Event):
    """The personal identity number of an opened case's patient, for the journal alone.

    Identity decides it when it sees the case's ``CaseOpened`` (whose subject id it
    issued), keyed by the case. It travels only on ``careflow.identity.patients``,
    which the deploy ACLs let the journal alone read.
    """

    OWNER: ClassVar[str] = "identity"
    event_type: Literal["CasePatientIdentified"] = "CasePatientIdentified"
    schema_version: Literal[1] = 1

    patient_id: str = Field(min_length=1, max_length=128, description="Opaque subject id.")
    personal_identity_number: str = Field(
        pattern=r"^\d{12}$", description="The patient's 12-digit personal identity number."
    )
    region: str = Field(min_length=1, max_length=64, description="The case's region.")


#: The events this module defines, collected by the registry.
EVENTS: tuple[type[Event], ...] = (
    LoginSucceeded,
    LoginRefused,
    ActingForChildStarted,
    CasePatientIdentified,
)
