"""Semantic memory: a bi-temporal knowledge graph of facts with provenance."""
