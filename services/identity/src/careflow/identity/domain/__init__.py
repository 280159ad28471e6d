"""Identity's rules: who may use the service, for whom they may act, and what a login records.

Pure: no I/O; today's date, the current instant, ids and the registers' answers
are passed in.

- ``clients``: who a request came from, behind the proxies identity trusts.
- ``numbers``: Swedish identity numbers and pseudonymous subject ids.
- ``eligibility``: the registers' answers (``Person``, ``StaffMember``) and who may
  log in or act for a child (``check_patient``, ``check_acting_for``).
- ``patients``: what a patient token may say (``traits_of``), and the journal's
  ``CasePatientIdentified`` for each opened case (``decide_identification``).
- ``logins``: the login session aggregate, whose ``decide_*`` functions decide the
  audit events (``LoginSucceeded``, ``LoginRefused``, ``ActingForChildStarted``).
"""

from careflow.identity.domain.clients import Network, client_address, trusted_networks
from careflow.identity.domain.eligibility import (
    CHILD_FROM_AGE,
    GUIDANCE,
    REGIONS,
    SELF_FROM_AGE,
    NotAllowed,
    Person,
    Refusal,
    StaffMember,
    check_acting_for,
    check_patient,
    check_staff_still,
    children_to_act_for,
    guidance,
)
from careflow.identity.domain.logins import (
    ActForChild,
    FailedOrder,
    LoginMethod,
    LoginSession,
    Outcome,
    PatientLogin,
    Realm,
    StaffLogin,
    decide_acting_for,
    decide_failed_order,
    decide_patient_login,
    decide_staff_login,
    evolve,
)
from careflow.identity.domain.numbers import (
    COORDINATION_GUIDANCE,
    IdentityNumber,
    NumberKind,
    normalise_pin,
    parse_identity_number,
    subject_id,
)
from careflow.identity.domain.patients import (
    Traits,
    decide_identification,
    identified_id,
    traits_of,
)

__all__ = [
    "CHILD_FROM_AGE",
    "COORDINATION_GUIDANCE",
    "GUIDANCE",
    "REGIONS",
    "SELF_FROM_AGE",
    "ActForChild",
    "FailedOrder",
    "IdentityNumber",
    "LoginMethod",
    "LoginSession",
    "Network",
    "NotAllowed",
    "NumberKind",
    "Outcome",
    "PatientLogin",
    "Person",
    "Realm",
    "Refusal",
    "StaffLogin",
    "StaffMember",
    "Traits",
    "check_acting_for",
    "check_patient",
    "check_staff_still",
    "children_to_act_for",
    "client_address",
    "decide_acting_for",
    "decide_failed_order",
    "decide_identification",
    "decide_patient_login",
    "decide_staff_login",
    "evolve",
    "guidance",
    "identified_id",
    "normalise_pin",
    "parse_identity_number",
    "subject_id",
    "traits_of",
    "trusted_networks",
]
