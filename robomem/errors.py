"""The one error hierarchy of robomem: every error the library raises on purpose is a :class:`RobomemError`.

Callers tell errors apart by type, never by message text::

    RobomemError
    ├── ConfigError           (also ValueError)   a config file, dict or ROS parameter is wrong; names the dotted key
    ├── ObservationError      (also ValueError)   an Observation / Event / input message is malformed
    │   └── OutOfOrderError                       a frame older than the robot's last update
    ├── QueryError            (also ValueError)   a question or Query that cannot be answered as asked
    │   └── UnknownObjectError (also KeyError)    no remembered object has this id
    ├── StoreError            (also RuntimeError) the store cannot be opened or used
    │   ├── StoreLockedError                      another process holds the store open
    │   └── StoreVersionError                     written by a newer robomem, or not a robomem store
    ├── ReplayError           (also RuntimeError) replay stopped; frames before it are kept
    ├── BagError              (also RuntimeError) a bag cannot be read (missing, damaged, unknown type)
    └── FleetError            (also RuntimeError) the fleet server cannot be reached or refused us (names host
                                                  and database, never the password)

``ConfigError``, ``ObservationError`` and ``QueryError`` also subclass :class:`ValueError`, and the
others :class:`RuntimeError`, so code written against the built-in types keeps working.  TF lookups
have their own family in :mod:`robomem.io.tf_buffer` (``TfError`` and subclasses: RobomemError and
``LookupError``); a ROS message that cannot be decoded (:mod:`robomem.io.rosmsg`) is an ObservationError.
This module imports nothing from robomem, so every layer may import it.
"""

from __future__ import annotations

__all__ = [
    "BagError",
    "ConfigError",
    "FleetError",
    "ObservationError",
    "OutOfOrderError",
    "QueryError",
    "ReplayError",
    "RobomemError",
    "StoreError",
    "StoreLockedError",
    "StoreVersionError",
    "UnknownObjectError",
]


class RobomemError(Exception):
    """Base of every error robomem raises on purpose."""


class ConfigError(RobomemError, ValueError):
    """A setting is unknown, of the wrong type or out of range; the message names the full dotted key."""


class ObservationError(RobomemError, ValueError):
    """An observation, event or decoded message is malformed; the message names the field."""


class OutOfOrderError(ObservationError):
    """An observation is older than the last update from the same robot (memory is built in time order)."""


class QueryError(RobomemError, ValueError):
    """A query or question that cannot be answered as asked (unknown mode, bad goal, bad parameter)."""


class UnknownObjectError(QueryError, KeyError):
    """No remembered object has this id (never had, or forgotten). Also a KeyError, as a missing key is."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class StoreError(RobomemError, RuntimeError):
    """The store cannot be opened or used."""


class StoreLockedError(StoreError):
    """Another process holds the store open."""


class StoreVersionError(StoreError):
    """The store was written by a newer robomem, or is not a robomem store."""


class ReplayError(RobomemError, RuntimeError):
    """Replay stopped; the message names the topic and offset. Frames before it are in the store."""


class BagError(RobomemError, RuntimeError):
    """The bag cannot be read: missing, unreadable, damaged, or a message type it does not define."""


class FleetError(RobomemError, RuntimeError):
    """The fleet memory (PostgreSQL) cannot be reached, refused the login or failed; names host and database,
    never a password."""
