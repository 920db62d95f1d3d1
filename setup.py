"""Thin shim so colcon (ament_python) can build robomem; metadata lives in pyproject.toml."""

from glob import glob

from setuptools import setup

setup(
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/robomem"]),
        ("share/robomem", ["package.xml"]),
        ("share/robomem/launch", glob("launch/*.py")),
        ("share/robomem/config", glob("config/*.yaml") + glob("config/*.rviz")),
    ],
)
