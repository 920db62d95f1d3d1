"""Launch the robomem memory and planner nodes (ros2 launch robomem robomem_launch.py).

Arguments:
  params_file   ros__parameters file for both nodes (default: the installed
                share/robomem/config/robomem_ros.yaml, generated from config/robomem.yaml)
  namespace     namespace of both nodes, e.g. robot1; their topics and services follow it
                (/tf, /tf_static and /diagnostics stay global)
  store_path    the memory store directory (default robomem_store)
  use_sim_time  take time from /clock (default false)

Where launch_ros is not installed (PyPI-only machines), `robomem ros` starts the same
two nodes with the same parameters (`--namespace`, `--store`, `--use-sim-time`).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from launch import LaunchDescription

ARGUMENTS = ("params_file", "namespace", "store_path", "use_sim_time")


def generate_launch_description():
    share = get_package_share_directory("robomem")
    params_file = LaunchConfiguration("params_file")
    namespace = LaunchConfiguration("namespace")
    use_sim_time = ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)
    store = LaunchConfiguration("store_path")
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "params_file",
                default_value=os.path.join(share, "config", "robomem_ros.yaml"),
                description="ros__parameters file for both nodes",
            ),
            DeclareLaunchArgument("namespace", default_value="", description="namespace of both nodes"),
            DeclareLaunchArgument("store_path", default_value="robomem_store", description="memory store directory"),
            DeclareLaunchArgument("use_sim_time", default_value="false", description="take time from /clock"),
            Node(
                package="robomem",
                executable="robomem_memory_node",
                name="robomem_memory",
                namespace=namespace,
                output="screen",
                parameters=[params_file, {"store_path": store, "use_sim_time": use_sim_time}],
            ),
            Node(
                package="robomem",
                executable="robomem_planner_node",
                name="robomem_planner",
                namespace=namespace,
                output="screen",
                parameters=[params_file, {"use_sim_time": use_sim_time}],
            ),
        ]
    )
