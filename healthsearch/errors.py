"""User-facing errors: one line that says what is wrong and what to do."""


class HealthsearchError(Exception):
    """An expected failure whose message is shown to the user as-is, without a traceback."""


class IndexProblem(HealthsearchError):
    """The index directory is missing, corrupt, or does not match the requested model."""


class CorpusError(HealthsearchError):
    """The corpus directory is missing or holds nothing that can be indexed."""


class ModelError(HealthsearchError):
    """The embedding model cannot be found or loaded."""


class SafetyDataError(HealthsearchError):
    """A safety data file (pattern table, exemplar bank, calibration) has a bad entry; names file and line."""
