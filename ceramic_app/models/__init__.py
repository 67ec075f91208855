"""SQLModel tables. Every tenant table carries workspace_id in each key."""

from ceramic_app.models.accounts import (
    ApiKey,
    Membership,
    Role,
    Session,
    User,
    Workspace,
)
from ceramic_app.models.audit import AuditEntry, ProfileChange
from ceramic_app.models.fields import CustomField, FieldType
from ceramic_app.models.jobs import BackgroundJob, ImportJob, JobStatus
from ceramic_app.models.preferences import ColumnPreference
from ceramic_app.models.profiles import Profile
from ceramic_app.models.segments import Segment
from ceramic_app.models.tags import ProfileTag, Tag
from ceramic_app.models.templates import Template, TemplateBlock

__all__ = [
    "ApiKey",
    "AuditEntry",
    "BackgroundJob",
    "ColumnPreference",
    "CustomField",
    "FieldType",
    "ImportJob",
    "JobStatus",
    "Membership",
    "Profile",
    "ProfileChange",
    "ProfileTag",
    "Role",
    "Segment",
    "Session",
    "Tag",
    "Template",
    "TemplateBlock",
    "User",
    "Workspace",
]
