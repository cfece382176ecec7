"""Errors caused by the user's input (config, data, weights), reported as one clear line.

Each carries a message that names the file, key or layer and says how to fix it; tools print it
without a traceback.
"""


class GNDetError(Exception):
    """Base class of gn_det's user-facing errors."""


class ConfigError(GNDetError, ValueError):
    """A config file or override that cannot be used."""


class DatasetError(GNDetError, ValueError):
    """A dataset that is not registered, missing on disk, or malformed."""


class NonFiniteError(GNDetError, FloatingPointError):
    """Training produced a NaN or Inf loss or weight; nothing non-finite was applied or saved."""


# What tools catch and print as "gn_det: error: <message>".
USER_ERRORS = (GNDetError, FileNotFoundError)
