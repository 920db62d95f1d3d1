"""The memory node's parameters behave like ROS 2 parameters, over real DDS.

A memory node started with the shipped ``config/robomem_ros.yaml`` (``--params-file``) is asked,
through its rcl_interfaces services as ``ros2 param`` does, to set, get and describe parameters:
an out-of-range value is refused with the range, a topic is read-only, a memory threshold is
applied live (the open Memory's config, read back through the Query service's "config" mode,
has it), a field that shapes stored data (voxel_size) is refused with the reason (it needs a
restart), and live node options are applied.  The params file is a real ``ros__parameters`` file
generated from config/robomem.yaml (one source of truth).

Run as a script (``python test_parameters.py client``) this file is the ``ros2 param`` side.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]
PARAMS = ROOT / "config" / "robomem_ros.yaml"


def test_params_file_is_generated_from_the_core_config():
    from robomem.nodes.launcher import ros_parameters

    shipped = yaml.safe_load(PARAMS.read_text())
    assert shipped == ros_parameters(ROOT / "config" / "robomem.yaml"), (
        "config/robomem_ros.yaml is out of date: run `robomem ros --print-params > config/robomem_ros.yaml`"
    )
    mem = shipped["/**/robomem_memory"]["ros__parameters"]
    assert mem["memory"]["spatial"]["voxel_size"] == 0.03 and mem["topics"]["tf"] == "/tf"
    assert mem["topics"]["color"] == "camera/color/image_raw"  # relative: follows the namespace


def test_parameter_policy_without_ros():
    from robomem.nodes.parameters import LIVE, is_read_only, refusal
    from robomem.nodes.settings import NodeSettings, flatten

    s = NodeSettings.load(ROOT / "config" / "robomem.yaml")
    assert "must be > 0, got -1.0" in refusal("memory.spatial.voxel_size", -1.0, s)[0]
    assert "restart" in refusal("memory.spatial.voxel_size", 0.05, s)[0]
    why, after = refusal("memory.spatial.match_threshold", 1.4, s)  # a threshold: applied live
    assert why is None and after.memory.spatial.match_threshold == 1.4 and s.memory.spatial.match_threshold == 1.0
    assert "must be >= 0" in refusal("memory.spatial.match_threshold", -0.5, s)[0]
    assert refusal("node.tf_wait", 8.0, s)[0] is None and "read-only" in refusal("tf_tolerance", 0.2, s)[0]
    assert "read-only" in refusal("topics.color", "/cam/rgb", s)[0]
    why, after = refusal("node.max_stamp_age", 5.0, s)
    assert why is None and after.node.max_stamp_age == 5.0 and s.node.max_stamp_age == 30.0
    assert "must be >= 1" in refusal("node.update_queue", 0, s)[0]
    names = set(flatten(s))
    assert names >= LIVE and is_read_only("store_path") and is_read_only("topics.color")


def _rclpy_ok() -> tuple[bool, str]:
    r = subprocess.run([sys.executable, "-c", "import rclpy, robomem_interfaces.srv"], capture_output=True, text=True)
    return r.returncode == 0, (r.stderr.strip().splitlines() or [""])[-1]


@pytest.mark.ros
@pytest.mark.slow
def test_set_get_describe_over_dds(tmp_path):
    ok, why = _rclpy_ok()
    if not ok:
        pytest.skip(f"rclpy/robomem_interfaces not importable ({why}); run scripts/bootstrap.sh")
    env = {k: v for k, v in os.environ.items() if k not in ("ROS_LOCALHOST_ONLY", "ROS_STATIC_PEERS")}
    env.update(
        ROS_DOMAIN_ID=str(random.randint(209, 214)),
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        RMW_IMPLEMENTATION="rmw_fastrtps_cpp",
        ROS_LOG_DIR=str(tmp_path / "ros_log"),
        PYTHONUNBUFFERED="1",
    )
    store = tmp_path / "store"
    log = tmp_path / "memory.log"
    cmd = [sys.executable, "-m", "robomem.nodes.memory_node", "--ros-args", "--params-file", str(PARAMS)]
    node = subprocess.Popen(
        [*cmd, "-p", f"store_path:={store}"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=tmp_path
    )
    try:
        t0 = time.monotonic()
        while "memory node ready" not in log.read_text(errors="replace"):
            assert node.poll() is None and time.monotonic() - t0 < 120, log.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        r = subprocess.run(
            [sys.executable, str(HERE), "client"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
        assert r.returncode == 0, r.stderr[-3000:]
        res = json.loads(r.stdout.strip().splitlines()[-1])
        assert node.poll() is None, log.read_text()[-3000:]
    finally:
        if node.poll() is None:
            node.send_signal(signal.SIGINT)
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.kill()
    # the params file was read: a value it gives (and the node's default does not differ from) is there
    assert res["get"]["store_path"] == str(store)
    assert res["get"]["memory.spatial.voxel_size"] == 0.03
    # out of range: refused, with the range; the value stays
    ok_, reason = res["set"]["memory.spatial.voxel_size=-1.0"]  # outside the descriptor's range: rclpy refuses
    assert not ok_ and "out of range" in reason and "memory.spatial.voxel_size" in reason, reason
    # inside the descriptor's closed range but not the rule's open one: the callback refuses, with the rule
    assert res["set"]["memory.spatial.voxel_size=0.0"] == [False, "memory.spatial.voxel_size must be > 0, got 0.0"]
    # read-only: topics and the store (rclpy refuses these itself, from the descriptor)
    assert res["set"]["topics.color=/cam/rgb"][0] is False
    assert res["set"]["store_path=/elsewhere"][0] is False
    # in range but it shapes what the open store holds: refused with the reason
    ok_, reason = res["set"]["memory.spatial.voxel_size=0.05"]
    assert not ok_ and "restart" in reason
    # live: applied, and get shows it
    assert res["set"]["node.max_stamp_age=5.0"] == [True, ""]
    assert res["set"]["node.k=3"] == [True, ""] and res["after"]["node.k"] == 3
    assert res["after"]["node.max_stamp_age"] == 5.0
    assert res["after"]["memory.spatial.voxel_size"] == 0.03
    # a memory threshold: applied to the open Memory itself (its config, read back through the Query service)
    assert res["config_before"]["spatial"]["match_threshold"] == 1.0
    assert res["set"]["memory.spatial.match_threshold=1.4"] == [True, ""]
    assert res["after"]["memory.spatial.match_threshold"] == 1.4
    assert res["config_after"]["spatial"]["match_threshold"] == 1.4
    assert res["config_after"]["spatial"]["voxel_size"] == 0.03  # the refused one did not reach memory
    assert "memory reconfigured: spatial.match_threshold" in log.read_text()
    assert res["after"]["topics.color"] == "camera/color/image_raw"
    # descriptors: ranges and read-only flags, as `ros2 param describe` shows them
    d = res["describe"]
    assert d["memory.spatial.voxel_size"]["float_range"][0] == 0.0 and not d["memory.spatial.voxel_size"]["read_only"]
    assert d["node.update_queue"]["int_range"][0] == 1
    assert d["topics.color"]["read_only"] and d["store_path"]["read_only"]
    assert "applied live" in d["node.max_stamp_age"]["description"]
    assert "applied live" in d["memory.spatial.match_threshold"]["description"]
    assert d["memory.spatial.match_threshold"]["float_range"][0] == 0.0
    assert "restart to change" in d["memory.spatial.voxel_size"]["description"]
    assert "2.4 s late" in d["node.tf_wait"]["description"] and "applied live" in d["node.tf_wait"]["description"]
    assert d["tf_tolerance"]["read_only"] and d["node.max_pending"]["int_range"][0] == 1
    assert "parameter refused: memory.spatial.voxel_size must be > 0, got 0.0" in log.read_text()


@pytest.mark.ros
@pytest.mark.parametrize("value", ["-1.0", "0.0"], ids=["outside-descriptor-range", "outside-open-rule"])
def test_bad_start_parameter_is_one_fatal_line_before_the_store(tmp_path, value):
    ok, why = _rclpy_ok()
    if not ok:
        pytest.skip(f"rclpy/robomem_interfaces not importable ({why}); run scripts/bootstrap.sh")
    env = dict(os.environ, ROS_DOMAIN_ID=str(random.randint(209, 214)), ROS_LOG_DIR=str(tmp_path / "ros_log"))
    store = tmp_path / "store"
    cmd = [sys.executable, "-m", "robomem.nodes.memory_node", "--ros-args", "-p", f"store_path:={store}"]
    r = subprocess.run(
        [*cmd, "-p", f"memory.spatial.voxel_size:={value}"], env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2, r.stderr[-3000:]
    fatal = [line for line in r.stderr.splitlines() if "[FATAL]" in line]
    assert len(fatal) == 1 and "memory.spatial.voxel_size" in fatal[0], r.stderr[-3000:]
    assert "Traceback" not in r.stderr and not store.exists()


# -- the `ros2 param` side (run as a script) --------------------------------------------------------------


def client() -> int:
    import rclpy
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import DescribeParameters, GetParameters, SetParameters
    from robomem_interfaces.srv import Query

    rclpy.init()
    node = rclpy.create_node("robomem_param_probe")
    target = "/robomem_memory"

    def call(srv_type, name, req, prefix=target + "/"):  # type: ignore[no-untyped-def]
        cli = node.create_client(srv_type, f"{prefix}{name}")
        assert cli.wait_for_service(timeout_sec=60), f"{prefix}{name} not available"
        fut = cli.call_async(req)
        rclpy.spin_until_future_complete(node, fut, timeout_sec=30)
        assert fut.done(), f"{name} timed out"
        return fut.result()

    def value_of(v: ParameterValue) -> object:
        return {
            ParameterType.PARAMETER_DOUBLE: v.double_value,
            ParameterType.PARAMETER_INTEGER: v.integer_value,
            ParameterType.PARAMETER_STRING: v.string_value,
            ParameterType.PARAMETER_BOOL: v.bool_value,
        }.get(v.type)

    names = [
        "store_path",
        "memory.spatial.voxel_size",
        "memory.spatial.match_threshold",
        "node.max_stamp_age",
        "node.k",
        "topics.color",
    ]

    def get() -> dict[str, object]:
        r = call(GetParameters, "get_parameters", GetParameters.Request(names=names))
        return {n: value_of(v) for n, v in zip(names, r.values, strict=True)}

    def param(name: str, value: object) -> Parameter:
        v = ParameterValue()
        if isinstance(value, float):
            v.type, v.double_value = ParameterType.PARAMETER_DOUBLE, value
        elif isinstance(value, int):
            v.type, v.integer_value = ParameterType.PARAMETER_INTEGER, value
        else:
            v.type, v.string_value = ParameterType.PARAMETER_STRING, str(value)
        return Parameter(name=name, value=v)

    def memory_config() -> dict[str, object]:  # the Memory's own config, through the Query service
        res = call(Query, "robomem/query", Query.Request(mode="config"), prefix="")
        assert res.ok, res.error
        return json.loads(res.json)["memory"]

    out: dict[str, object] = {"get": get(), "set": {}, "config_before": memory_config()}
    for name, value in [
        ("memory.spatial.voxel_size", -1.0),
        ("memory.spatial.voxel_size", 0.0),
        ("topics.color", "/cam/rgb"),
        ("store_path", "/elsewhere"),
        ("memory.spatial.voxel_size", 0.05),
        ("node.max_stamp_age", 5.0),
        ("node.k", 3),
        ("memory.spatial.match_threshold", 1.4),
    ]:
        r = call(SetParameters, "set_parameters", SetParameters.Request(parameters=[param(name, value)]))
        out["set"][f"{name}={value}"] = [r.results[0].successful, r.results[0].reason]  # type: ignore[index]
    out["after"] = get()
    out["config_after"] = memory_config()
    described = [
        "memory.spatial.voxel_size",
        "node.update_queue",
        "topics.color",
        "store_path",
        "node.max_stamp_age",
        "memory.spatial.match_threshold",
        "node.tf_wait",
        "tf_tolerance",
        "node.max_pending",
    ]
    r = call(DescribeParameters, "describe_parameters", DescribeParameters.Request(names=described))
    out["describe"] = {
        name: {
            "read_only": d.read_only,
            "description": d.description,
            "float_range": [x.from_value for x in d.floating_point_range],
            "int_range": [x.from_value for x in d.integer_range],
        }
        for name, d in zip(described, r.descriptors, strict=True)
    }
    print(json.dumps(out), flush=True)
    node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["client"]:
        raise SystemExit(client())
    raise SystemExit(f"usage: {sys.argv[0]} client")
