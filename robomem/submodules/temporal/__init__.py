"""Temporal memory: sightings and observed absences per object."""
