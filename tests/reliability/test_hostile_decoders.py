"""Hostile input at the adapters' edges: ROS message decoders and bag files.

Whatever fields a message carries, the shared decoder (robomem.io.rosmsg, used by the ROS nodes
and by replay) returns a well-formed array / Intrinsics / labels, or raises ValueError naming
the problem; a bag file of arbitrary bytes gives BagError. Nothing else escapes.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robomem.io.bag import BagError, BagReader
from robomem.io.rosmsg import (
    IMAGE_ENCODINGS,
    camera_info_to_intrinsics,
    depth_to_metres,
    image_to_numpy,
    instance_labels_to_infos,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
encodings = st.one_of(st.sampled_from(sorted(IMAGE_ENCODINGS)), st.text(max_size=12))


@st.composite
def images(draw):
    h = draw(st.integers(0, 40))
    w = draw(st.integers(0, 40))
    enc = draw(encodings)
    step = draw(st.one_of(st.just(None), st.integers(-5, 400)))
    n = draw(st.integers(0, 5000))
    data = draw(st.binary(min_size=n, max_size=n)) if n < 600 else bytes(n)
    bpp = IMAGE_ENCODINGS.get(enc, ("u1", 1))
    itemsize = int(bpp[0][1]) * bpp[1]
    return SimpleNamespace(
        height=h,
        width=w,
        encoding=enc,
        is_bigendian=draw(st.integers(0, 1)),
        step=w * itemsize if step is None else step,
        data=data,
    )


@SETTINGS
@given(images())
def test_image_decoding_returns_a_consistent_array_or_value_error(msg):
    try:
        a = image_to_numpy(msg)
    except ValueError as exc:
        assert str(exc)
        return
    assert a.shape[:2] == (msg.height, msg.width)


@SETTINGS
@given(images())
def test_depth_decoding_gives_float32_metres_or_value_error(msg):
    try:
        d = depth_to_metres(msg)
    except ValueError:
        return
    assert d.dtype == np.float32 and d.shape == (msg.height, msg.width)
    assert not np.isinf(d).any()


@SETTINGS
@given(
    st.integers(-10, 5000),
    st.integers(-10, 5000),
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=0, max_size=12),
)
def test_camera_info_gives_intrinsics_or_value_error(w, h, k):
    msg = SimpleNamespace(width=w, height=h, k=k, p=[], binning_x=0, binning_y=0, roi=None)
    try:
        intr = camera_info_to_intrinsics(msg)
    except ValueError:
        return
    assert intr.fx > 0 and intr.fy > 0 and intr.width > 0 and intr.height > 0


@SETTINGS
@given(
    st.lists(st.integers(-5, 2**33), max_size=6),
    st.lists(st.text(max_size=20), max_size=6),
    st.lists(st.floats(allow_nan=True, width=32), max_size=6),
)
def test_instance_labels_give_infos_or_value_error(ids, labels, scores):
    msg = SimpleNamespace(ids=ids, labels=labels, scores=scores)
    try:
        infos = instance_labels_to_infos(msg)
    except ValueError:
        return
    assert all(i > 0 for i in infos) and all(v.label.strip() for v in infos.values())


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=4096), st.sampled_from(["x.mcap", "x.db3", "bagdir"]))
def test_arbitrary_bytes_are_not_a_bag(tmp_path_factory, data, name):
    d = tmp_path_factory.mktemp("bag")
    if name == "bagdir":
        (d / "bagdir").mkdir()
        (d / "bagdir" / "metadata.yaml").write_bytes(data)
        path = d / "bagdir"
    else:
        path = d / name
        path.write_bytes(data)
    with pytest.raises(BagError):
        r = BagReader(path)
        list(r.messages())
