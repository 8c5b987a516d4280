"""Operations on a NATS cluster: plan with read-only requests, then execute safely.

Use :class:`Operator` (``Operator.from_hub(hub)``) to build a :class:`Plan` with one
of its ``plan_*`` methods, show it, then :meth:`Operator.execute` it to get a
checked :class:`Outcome`. Read-only mode and the audit log are enforced there.
"""

from natsops.ops.move import MoveSnapshot, MoveTracker
from natsops.ops.operator import (
    AccountConn,
    AccountRef,
    Connections,
    Operator,
    StaticConnections,
    is_account_key,
)
from natsops.ops.plan import (
    ACTIONS,
    ConfirmationRequired,
    OperationCancelled,
    OperationDenied,
    OperationRefused,
    Outcome,
    Plan,
    Risk,
    explain_error,
)
from natsops.ops.views import GroupView, Peer

__all__ = [
    "ACTIONS",
    "AccountConn",
    "AccountRef",
    "ConfirmationRequired",
    "Connections",
    "GroupView",
    "MoveSnapshot",
    "MoveTracker",
    "OperationCancelled",
    "OperationDenied",
    "OperationRefused",
    "Operator",
    "Outcome",
    "Peer",
    "Plan",
    "Risk",
    "StaticConnections",
    "explain_error",
    "is_account_key",
]
