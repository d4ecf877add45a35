"""The root of the errors modcls raises for problems a user can fix (bad input, model, policy)."""

from __future__ import annotations


class ModclsError(Exception):
    """A problem the user can fix; the command line prints it as ``modcls: error: ...``."""


class InputError(ModclsError, ValueError):
    """Input text that cannot be moderated (empty, too long, not text)."""


class ModelLoadError(ModclsError, RuntimeError):
    """A model folder that cannot be loaded (missing, incomplete, or its base does not match)."""
