"""Launch the robomem memory and planner nodes (ros2 launch robomem robomem_launch.py).

Arguments: params_file (default: the installed config/robomem.yaml), store_path,
use_sim_time, and remappings through the usual ros2 launch mechanisms.
Where launch_ros is not installed (PyPI-only machines), `robomem ros` starts the
same two nodes with the same params file.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory("robomem")
    config = LaunchConfiguration("config_file")
    use_sim_time = LaunchConfiguration("use_sim_time")
    store = LaunchConfiguration("store_path")
    common = {"config_file": config, "use_sim_time": use_sim_time}
    return LaunchDescription(
        [
            DeclareLaunchArgument("config_file", default_value=os.path.join(share, "config", "robomem.yaml")),
            DeclareLaunchArgument("use_sim_time", default_value="false"),
            DeclareLaunchArgument("store_path", default_value="robomem_store"),
            DeclareLaunchArgument("color_topic", default_value="/camera/color/image_raw"),
            DeclareLaunchArgument("depth_topic", default_value="/camera/depth/image_raw"),
            Node(
                package="robomem",
                executable="robomem_memory_node",
                name="robomem_memory",
                output="screen",
                parameters=[{**common, "store_path": store}],
                remappings=[
                    ("/camera/color/image_raw", LaunchConfiguration("color_topic")),
                    ("/camera/depth/image_raw", LaunchConfiguration("depth_topic")),
                ],
            ),
            Node(
                package="robomem",
                executable="robomem_planner_node",
                name="robomem_planner",
                output="screen",
                parameters=[common],
            ),
        ]
    )
