"""The kernel's own tables, present in every service database: outbox and inbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, text
from sqlmodel import Field, SQLModel

from upward_common.types import UTCDateTime


class OutboxEvent(SQLModel, table=True):
    """An event written in the same transaction as the change it describes."""

    __tablename__ = "outbox_event"
    # The relay reads only rows still to send, the dead-letter gauge only rows set
    # aside: each partial index stays as small as what it counts.
    __table_args__ = (
        Index("ix_outbox_event_unsent", "seq",
              postgresql_where=text("published_at IS NULL AND failed_at IS NULL"),
              sqlite_where=text("published_at IS NULL AND failed_at IS NULL")),
        Index("ix_outbox_event_failed", "seq",
              postgresql_where=text("failed_at IS NOT NULL"),
              sqlite_where=text("failed_at IS NOT NULL")),
    )

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64, unique=True)
    # The NATS subject the relay publishes to (`mentoring.<noun>.<verb>`).
    subject: str = Field(max_length=200)
    # The CloudEvents `subject` (the id of the thing the event is about), so a
    # service can forget what it published about someone (`outbox.forget`).
    ce_subject: str | None = Field(default=None, max_length=200, index=True)
    payload: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, index=True, sa_type=UTCDateTime)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    # Set when the relay gave up on the row (a dead letter); `last_error` says why.
    failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InboxEvent(SQLModel, table=True):
    """An event this service has applied; its id makes every handler idempotent."""

    __tablename__ = "inbox_event"

    event_id: str = Field(max_length=64, primary_key=True)
    event_type: str = Field(max_length=200)
    processed_at: datetime = Field(sa_type=UTCDateTime)


KERNEL_TABLES = frozenset({"outbox_event", "inbox_event"})
