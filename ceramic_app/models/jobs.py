"""Import jobs and other background jobs; Postgres holds their truth."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from ceramic_app.models._types import bigint_pk, jsonb, timestamp, workspace_key


class JobStatus(enum.StrEnum):
    """Lifecycle of a job; the last four are final."""

    DRAFT = "draft"
    VALIDATING = "validating"
    VALIDATED = "validated"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class ImportJob(SQLModel, table=True):
    """One uploaded file on its way into profiles.

    records_done is the checkpoint: records before it are committed, together
    with the counts, in the same transaction as their rows.
    """

    __tablename__ = "import_jobs"

    workspace_id: int = Field(sa_column=workspace_key())
    id: int | None = Field(default=None, sa_column=bigint_pk())
    created_by: int | None = None
    status: JobStatus = JobStatus.DRAFT
    file_name: str
    file_path: str
    file_size: int = 0
    # Detected and overridable reading options: format, encoding, delimiter, ...
    source: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb())
    mapping: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb())
    options: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb())
    total_records: int | None = None
    records_done: int = 0
    created_count: int = 0
    updated_count: int = 0
    merged_count: int = 0
    skipped_count: int = 0
    rejected_count: int = 0
    warning_count: int = 0
    validation: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb())
    report: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb())
    error_file_path: str | None = None
    error_message: str | None = None
    rq_job_id: str | None = None
    attempts: int = 0
    cancel_requested: bool = False
    created_at: datetime | None = Field(default=None, sa_column=timestamp())
    started_at: datetime | None = Field(
        default=None, sa_column=timestamp(nullable=True, default_now=False)
    )
    heartbeat_at: datetime | None = Field(
        default=None, sa_column=timestamp(nullable=True, default_now=False)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=timestamp(nullable=True, default_now=False)
    )
    # When the search documents of the profiles this import wrote were
    # refreshed; NULL while that follow-up job is pending.
    search_indexed_at: datetime | None = Field(
        default=None, sa_column=timestamp(nullable=True, default_now=False)
    )


class BackgroundJob(SQLModel, table=True):
    """Any other long work: exports, field conversions, bulk edits, deletions."""

    __tablename__ = "background_jobs"

    workspace_id: int = Field(sa_column=workspace_key())
    id: int | None = Field(default=None, sa_column=bigint_pk())
    kind: str
    status: JobStatus = JobStatus.QUEUED
    params: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb())
    result: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb())
    progress_done: int = 0
    progress_total: int | None = None
    error_message: str | None = None
    rq_job_id: str | None = None
    attempts: int = 0
    cancel_requested: bool = False
    created_by: int | None = None
    created_at: datetime | None = Field(default=None, sa_column=timestamp())
    started_at: datetime | None = Field(
        default=None, sa_column=timestamp(nullable=True, default_now=False)
    )
    heartbeat_at: datetime | None = Field(
        default=None, sa_column=timestamp(nullable=True, default_now=False)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=timestamp(nullable=True, default_now=False)
    )
