"""ROS 2 adapters for robomem: thin nodes over the core. Installed as robomem.nodes."""
