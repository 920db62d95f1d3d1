"""Helpers for tests, benchmarks and examples (a tiny exact ray-caster)."""
