"""Logs and ROS messages: decoding, topics, TF, synchronisation, bags and replay. Imports no rclpy."""
