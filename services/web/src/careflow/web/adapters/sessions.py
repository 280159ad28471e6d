"""Sessions in web's own PostgreSQL schema, so any replica serves any request.

Rows are keyed by a hash of the cookie's secret; tokens never leave this table but to
call the other services.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text

from careflow.kit.db import Database
from careflow.web.domain import Session, id_hash


def _session(row: Any) -> Session:
    return Session(
        id_hash=row.id_hash,
        csrf_token=row.csrf_token,
        expires_at=row.expires_at,
        role=row.role,
        subject_id=row.subject_id,
        access_token=row.access_token,
        refresh_token=row.refresh_token,
        data=dict(row.data or {}),
    )


class SessionStore:
    """Create, find, update and end sessions."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, expires_at: datetime, now: datetime) -> tuple[str, Session]:
        """A new anonymous session: the cookie's secret and the stored session."""
        secret = secrets.token_urlsafe(32)
        session = Session(id_hash(secret), secrets.token_urlsafe(32), expires_at)
        async with self.db.transaction() as conn:
            await conn.execute(
                text(
                    "INSERT INTO sessions (id_hash, csrf_token, created_at, expires_at)"
                    " VALUES (:id, :csrf, :now, :exp)"
                ),
                {"id": session.id_hash, "csrf": session.csrf_token, "now": now, "exp": expires_at},
            )
            # Expired sessions go on the way: no sweeper process needed.
            await conn.execute(text("DELETE FROM sessions WHERE expires_at < :now"), {"now": now})
        return secret, session

    async def find(self, secret: str) -> Session | None:
        # Every request of every page asks: one round trip, no transaction.
        async with self.db.autocommit() as conn:
            row = (
                await conn.execute(
                    text("SELECT * FROM sessions WHERE id_hash = :id"), {"id": id_hash(secret)}
                )
            ).first()
        return _session(row) if row else None

    async def extend(self, session: Session, expires_at: datetime) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                text("UPDATE sessions SET expires_at = :exp WHERE id_hash = :id"),
                {"exp": expires_at, "id": session.id_hash},
            )

    async def update_data(self, session: Session, **values: Any) -> None:
        """Merge ``values`` into the session's data (a pending login, a language)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                text("UPDATE sessions SET data = data || CAST(:v AS jsonb) WHERE id_hash = :id"),
                {"v": json.dumps(values), "id": session.id_hash},
            )

    async def set_tokens(self, session: Session, access: str, refresh: str | None) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                text(
                    "UPDATE sessions SET access_token = :a, refresh_token = :r WHERE id_hash = :id"
                ),
                {"a": access, "r": refresh, "id": session.id_hash},
            )

    async def log_in(
        self,
        old: Session,
        role: str,
        subject_id: str,
        access: str,
        refresh: str | None,
        expires_at: datetime,
        now: datetime,
    ) -> tuple[str, Session]:
        """A fresh session for the person who just logged in; the old one ends.

        A new id at login: a session id planted before login is worth nothing after it."""
        secret = secrets.token_urlsafe(32)
        data = {k: v for k, v in old.data.items() if k == "lang"}
        session = Session(
            id_hash(secret),
            secrets.token_urlsafe(32),
            expires_at,
            role,
            subject_id,
            access,
            refresh,
            data,
        )
        async with self.db.transaction() as conn:
            await conn.execute(
                text("DELETE FROM sessions WHERE id_hash = :id"), {"id": old.id_hash}
            )
            await conn.execute(
                text(
                    "INSERT INTO sessions (id_hash, csrf_token, role, subject_id, access_token,"
                    " refresh_token, data, created_at, expires_at) VALUES (:id, :csrf, :role,"
                    " :sub, :a, :r, CAST(:data AS jsonb), :now, :exp)"
                ),
                {
                    "id": session.id_hash,
                    "csrf": session.csrf_token,
                    "role": role,
                    "sub": subject_id,
                    "a": access,
                    "r": refresh,
                    "data": json.dumps(data),
                    "now": now,
                    "exp": expires_at,
                },
            )
        return secret, session

    async def end(self, session: Session) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                text("DELETE FROM sessions WHERE id_hash = :id"), {"id": session.id_hash}
            )


class PatientCases:
    """The cases each patient opened through the web front end ("My cases")."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, subject_id: str, case_id: uuid.UUID, questionnaire_id: str, now: datetime
    ) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                text("INSERT INTO patient_cases VALUES (:s, :c, :q, :now) ON CONFLICT DO NOTHING"),
                {"s": subject_id, "c": case_id, "q": questionnaire_id, "now": now},
            )

    async def of(self, subject_id: str) -> list[dict[str, Any]]:
        async with self.db.transaction() as conn:
            rows = await conn.execute(
                text(
                    "SELECT case_id, questionnaire_id, opened_at FROM patient_cases"
                    " WHERE subject_id = :s ORDER BY opened_at DESC"
                ),
                {"s": subject_id},
            )
            return [dict(r._mapping) for r in rows]

    async def owns(self, subject_id: str, case_id: uuid.UUID) -> bool:
        async with self.db.transaction() as conn:
            row = await conn.execute(
                text("SELECT 1 FROM patient_cases WHERE subject_id = :s AND case_id = :c"),
                {"s": subject_id, "c": case_id},
            )
            return row.first() is not None
