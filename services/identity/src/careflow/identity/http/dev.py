"""Development shortcuts: the test e-ID app and tokens without e-ID (refused in production)."""

from __future__ import annotations

from fastapi import APIRouter, status

from careflow.identity import service
from careflow.identity.http.models import DevPatientLogin, DevStaffLogin, TestAppApproval, Token
from careflow.kit.problems import problems


def router(identity: service.Identity) -> APIRouter:
    """Routes under ``/eid/test-app`` and ``/dev``."""
    api = APIRouter()

    @api.post(
        "/eid/test-app/{order_ref}/approve",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problems(403, 404, 409),
    )
    async def test_app_approve(order_ref: str, body: TestAppApproval) -> None:
        """The development e-ID app: the person identifies themselves. Refused in production."""
        await service.approve_in_test_app(identity, order_ref, body.personal_identity_number)

    @api.post("/dev/patient-tokens", responses=problems(403))
    async def dev_patient_token(body: DevPatientLogin) -> Token:
        """A patient's token without e-ID (a guardian's, with ``acting_for_pin``)."""
        tokens = await service.dev_patient_token(
            identity, body.personal_identity_number, body.region, body.acting_for_pin
        )
        return Token.model_validate(tokens)

    @api.post("/dev/staff-tokens", responses=problems(403))
    async def dev_staff_token(body: DevStaffLogin) -> Token:
        """A member of staff's token without e-ID."""
        tokens = await service.dev_staff_token(
            identity, body.hsa_id, body.name, body.title, body.region, body.care_unit
        )
        return Token.model_validate(tokens)

    return api
