"""Permissions: the subject catalogue, the NATS subject matcher, credential checks
and least-privilege recommendations for natsops' roles.
"""

from __future__ import annotations

from natsops.perms.catalogue import (
    CATALOGUE,
    FEATURES,
    Feature,
    SubjectEntry,
    entries_for,
    requirement,
    role_features,
)
from natsops.perms.check import (
    ConnectionReport,
    FeatureCheck,
    PermsReport,
    ProbeOutcome,
    SubjectCheck,
    as_permissions,
    check_credential,
    check_hub,
    check_link,
    evaluate,
    feature_available,
    feature_check,
    unavailable_reason,
)
from natsops.perms.recommend import PermissionSet, recommend, render
from natsops.perms.subjects import (
    Decision,
    Permissions,
    SubjectPermission,
    covers,
    covers_any,
    matches,
    overlaps,
)

__all__ = [
    "CATALOGUE",
    "FEATURES",
    "ConnectionReport",
    "Decision",
    "Feature",
    "FeatureCheck",
    "PermissionSet",
    "Permissions",
    "PermsReport",
    "ProbeOutcome",
    "SubjectCheck",
    "SubjectEntry",
    "SubjectPermission",
    "as_permissions",
    "check_credential",
    "check_hub",
    "check_link",
    "covers",
    "covers_any",
    "entries_for",
    "evaluate",
    "feature_available",
    "feature_check",
    "matches",
    "overlaps",
    "recommend",
    "render",
    "requirement",
    "role_features",
    "unavailable_reason",
]
