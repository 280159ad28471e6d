"""Identity's Kafka entry point: each opened case's patient, told to the journal alone."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import CaseOpened
from careflow.identity import service
from careflow.kit.consumer import Handler


def handlers(identity: service.Identity) -> dict[str, Handler]:
    """Handlers for the triage topic: a ``CaseOpened`` becomes ``CasePatientIdentified``."""

    async def case_opened(conn: AsyncConnection, event: CaseOpened) -> None:
        await service.identify_case_patient(identity, conn, event)

    return {"CaseOpened": case_opened}
