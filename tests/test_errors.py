"""The one error hierarchy (robomem.errors): errors are told apart by type, and the old
built-in bases (ValueError, RuntimeError, LookupError) still catch them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from robomem import errors
from robomem.config import MemoryConfig, load_config
from robomem.errors import (
    BagError,
    ConfigError,
    ObservationError,
    OutOfOrderError,
    QueryError,
    ReplayError,
    RobomemError,
    StoreError,
    StoreLockedError,
    StoreVersionError,
)


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (ConfigError, ValueError),
        (ObservationError, ValueError),
        (OutOfOrderError, ObservationError),
        (QueryError, ValueError),
        (StoreError, RuntimeError),
        (StoreLockedError, StoreError),
        (StoreVersionError, StoreError),
        (ReplayError, RuntimeError),
        (BagError, RuntimeError),
    ],
)
def test_every_error_is_a_robomem_error_and_keeps_its_builtin_base(cls: type, builtin: type) -> None:
    assert issubclass(cls, RobomemError) and issubclass(cls, builtin)
    assert cls.__name__ in errors.__all__


def test_each_error_is_defined_once_and_reexported_where_callers_import_it() -> None:
    from robomem.io import bag, replay
    from robomem.store import database

    assert database.StoreError is StoreError and database.StoreLockedError is StoreLockedError
    assert database.StoreVersionError is StoreVersionError
    assert bag.BagError is BagError and replay.ReplayError is ReplayError


def test_config_observation_and_tf_errors_have_their_types() -> None:
    from robomem.io.rosmsg import depth_to_metres
    from robomem.io.tf_buffer import FrameNotFoundError, TfBuffer, TfError
    from robomem.observation import Event

    with pytest.raises(ConfigError):
        MemoryConfig.from_dict({"episodic": {"write_every": 0}})
    with pytest.raises(ConfigError):
        load_config("/nonexistent/robomem.yaml")
    with pytest.raises(ObservationError):
        Event(-1.0, "note", "x")
    with pytest.raises(ObservationError):
        depth_to_metres(SimpleNamespace(height=1, width=1, encoding="rgb8", is_bigendian=0, step=3, data=b"abc"))
    assert issubclass(TfError, RobomemError) and issubclass(TfError, LookupError)
    with pytest.raises(FrameNotFoundError):
        TfBuffer().lookup_pose("map", "camera", 0.0)
