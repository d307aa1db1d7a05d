"""Exceptions raised by upt-data; every one derives from `UptDataError`."""


class UptDataError(Exception):
    """Base class of every error upt-data raises on bad input."""


class StoreNotFoundError(UptDataError, FileNotFoundError):
    """Nothing exists at the given path or URL."""


class StoreExistsError(UptDataError, FileExistsError):
    """The output path already holds something and overwriting was not asked for."""


class NotAStoreError(UptDataError):
    """The path exists but is not a zarr v3 group."""


class StoreLayoutError(UptDataError):
    """A zarr group whose arrays, shapes, dtypes or attributes are not a upt field store's."""


class NonFiniteDataError(UptDataError):
    """NaN or Inf found in fields, coordinates or statistics."""


class DamagedStoreError(UptDataError):
    """A chunk of a store that cannot be read back (truncated, corrupt or unreadable)."""


class IndexOutOfRangeError(UptDataError, IndexError):
    """A sample, trajectory or time index outside the valid range."""


class InvalidArgumentError(UptDataError, ValueError):
    """An argument outside its valid range or of the wrong kind."""


class InputFileError(UptDataError):
    """An input file (e.g. a PDEBench HDF5 file) that cannot be read or has the wrong layout."""
