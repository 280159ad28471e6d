"""Identity's HTTP API: development tokens (refused in production)."""

from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from careflow.identity import domain
from careflow.kit.auth import Principal, issue_token
from careflow.kit.settings import Environment, ServiceSettings


class DevPatientLogin(BaseModel):
    personal_identity_number: str
    region: str = Field(min_length=1, max_length=64)
    acting_for_pin: str | None = Field(
        default=None, description="A child's number, for a guardian."
    )


class DevStaffLogin(BaseModel):
    hsa_id: str = Field(min_length=3, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    title: Literal["nurse", "doctor", "psychologist", "administrator"]
    region: str = Field(min_length=1, max_length=64)
    care_unit: str = Field(min_length=1, max_length=200)


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    subject_id: str


def router(settings: ServiceSettings) -> APIRouter:
    api = APIRouter(tags=["identity"])
    secret = settings.token_secret.get_secret_value()
    key = secret.encode()

    def refuse_in_production() -> None:
        if settings.environment in (Environment.PRODUCTION, Environment.STAGING):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "development logins are refused in this environment"
            )

    @api.post("/dev/patient-tokens")
    async def patient_token(body: DevPatientLogin) -> Token:
        refuse_in_production()
        pin = domain.normalise_pin(body.personal_identity_number)
        me = domain.subject_id(pin, key)
        child = None
        if body.acting_for_pin:
            child_pin = domain.normalise_pin(body.acting_for_pin)
            child = domain.subject_id(child_pin, key)
            pin = child_pin  # the case is the child's
        principal = Principal(
            subject_id=me,
            role="patient",
            region=body.region,
            acting_for=child,
            personal_identity_number=pin,
        )
        return Token(
            access_token=issue_token(secret, principal, timedelta(hours=2)), subject_id=child or me
        )

    @api.post("/dev/staff-tokens")
    async def staff_token(body: DevStaffLogin) -> Token:
        refuse_in_production()
        principal = Principal(
            subject_id=body.hsa_id,
            role="staff",
            region=body.region,
            name=body.name,
            title=body.title,
            care_unit=body.care_unit,
        )
        return Token(
            access_token=issue_token(secret, principal, timedelta(hours=8)), subject_id=body.hsa_id
        )

    return api
