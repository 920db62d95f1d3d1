"""Episodic memory: episodes, their steps and outcomes."""
