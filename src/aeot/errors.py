"""Exceptions for users: each message is one line naming the value and the fix.

The CLI catches :class:`AeotError` (and ``ValueError`` raised by validation),
prints the message and exits with status 2 without a traceback.
"""

from __future__ import annotations


class AeotError(Exception):
    """Base class of every error aeot raises on purpose."""


class DatasetError(AeotError):
    """A dataset is missing, corrupt or inconsistent (names the file and the fix)."""


class CheckpointError(AeotError):
    """A checkpoint is missing, corrupt, or belongs to another model."""


class ConfigError(AeotError, ValueError):
    """A configuration value is out of range or of the wrong kind."""


class NotFittedError(AeotError, RuntimeError):
    """A sampler (or other estimator) was used before ``fit``."""


class OptionalDependencyError(AeotError, ImportError):
    """An optional dependency is missing; the message gives the install command."""
