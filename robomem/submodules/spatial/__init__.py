"""Spatial memory: the object map, the scene graph and 3D snapshots."""
