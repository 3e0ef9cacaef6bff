"""Exceptions that tell a user what went wrong and where, instead of a stack of tensors."""


class GenmodelsError(Exception):
    """Base class of every error genmodels raises on purpose."""


class DataError(GenmodelsError, ValueError):
    """A data set could not be read or does not have the expected form; the message names the file."""


class CheckpointError(GenmodelsError, ValueError):
    """A saved model or training checkpoint is missing, corrupt, or does not match what loads it."""


class TrainingDivergedError(GenmodelsError, RuntimeError):
    """A loss became NaN or infinite; the weights were not updated with it."""


class MissingExtraError(GenmodelsError, ImportError):
    """A feature needs an optional dependency group that is not installed; the message names the extra."""


class RunDirectoryError(GenmodelsError):
    """A run or output directory cannot be written: it is in use, holds another run, or is not writable."""


class RunDirectoryBusyError(RunDirectoryError):
    """Another process holds the directory; the message names the directory and, where recorded, the holder."""


class RunDirectoryExistsError(RunDirectoryError, FileExistsError):
    """The directory already holds files this command did not write; it is left as it is."""


class OutputError(GenmodelsError, OSError):
    """An output file cannot be written where it was asked for (no permission, no space, not a directory)."""


class DeviceSettingsError(GenmodelsError, ValueError):
    """The accelerator, devices, strategy, precision or nodes asked for cannot run on this machine."""


class ConfigError(GenmodelsError, ValueError):
    """A setting, sampling control or argument has the wrong type or is out of range; the message names it."""


class ResourceError(GenmodelsError, MemoryError):
    """A model or request needs more memory (or disk) than the machine has; the message gives both numbers."""
