"""Backups of the registry and their restores (DUR-2, DUR-3); docs/decisions/0016-backups.md."""

from __future__ import annotations

from sigmawatch.backups.artifacts import Check
from sigmawatch.backups.layout import BackupSummary, list_backups, prune, read_manifest
from sigmawatch.backups.restore import RestoreReport, restore_backup
from sigmawatch.backups.take import BackupReport, take_backup

__all__ = [
    "BackupReport",
    "BackupSummary",
    "Check",
    "RestoreReport",
    "list_backups",
    "prune",
    "read_manifest",
    "restore_backup",
    "take_backup",
]
