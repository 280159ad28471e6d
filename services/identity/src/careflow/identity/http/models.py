"""What identity's API reads and answers (the OpenAPI document's schemas)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from careflow.identity.eid import OrderStatus


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
    model_config = ConfigDict(from_attributes=True)

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    subject_id: str
    refresh_token: str | None = None
    expires_in: int | None = None


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=20, max_length=200)


class StartOrder(BaseModel):
    realm: Literal["patient", "staff"] = "patient"
    personal_identity_number: str | None = Field(
        default=None, description="Optional: who is expected to sign (BankID's personalNumber)."
    )


class Order(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    order_ref: str
    auto_start_token: str
    qr_data: str


class Refused(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    guidance: str


class CollectResult(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: OrderStatus
    hint_code: str | None = None
    login: Token | None = None
    refused: Refused | None = None


class TestAppApproval(BaseModel):
    personal_identity_number: str


class ActFor(BaseModel):
    child_personal_identity_number: str


class Child(BaseModel):
    """A child the guardian may act for today (aged 1-12)."""

    model_config = ConfigDict(from_attributes=True)

    personal_identity_number: str
    given_name: str
    family_name: str
    age_years: int
