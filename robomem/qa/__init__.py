"""One question engine: the label rule, the verbs, free-text routing, and the verbs as LLM tools."""

from robomem.qa.labels import SYNONYM_THRESHOLD, LabelMatch, match_label, match_memory, normalize_label

__all__ = ["SYNONYM_THRESHOLD", "LabelMatch", "match_label", "match_memory", "normalize_label"]
