"""The typed states of cases, inbound messages and outbox rows, and the request types."""

from __future__ import annotations

import enum


class CaseStatus(str, enum.Enum):
    RECEIVED = "RECEIVED"
    AWAITING_DOCUMENTS = "AWAITING_DOCUMENTS"
    AWAITING_REVIEW = "AWAITING_REVIEW"
    APPROVED = "APPROVED"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


# The states a case never leaves; every other state is open.
CLOSED = frozenset({CaseStatus.COMPLETED, CaseStatus.REJECTED, CaseStatus.EXPIRED})
OPEN_STATUSES = (CaseStatus.RECEIVED, CaseStatus.AWAITING_DOCUMENTS, CaseStatus.AWAITING_REVIEW,
                 CaseStatus.APPROVED)


REQUEST_TYPE_LABELS = {
    "reset_password": "reset password",
    "user_id_info": "informasi user ID",
    "both": "reset password dan informasi user ID",
    "unknown": "jenis permohonan tidak dikenali",
}
