"""Language in and out of facts: fact texts ("s | p | o"), simple statements in instructions, names, actions."""

from __future__ import annotations

import math
import re

_ARTICLES = re.compile(r"^(?:the|a|an|my|our|your|his|her|their|this|that)\s+", re.I)
_PREFIX = re.compile(r"^(?:please\s+)?(?:remember|note|know|fyi|btw)(?:\s+that)?[:,]?\s+", re.I)
_STATES = (
    "broken",
    "open",
    "closed",
    "empty",
    "full",
    "dirty",
    "clean",
    "locked",
    "unlocked",
    "on",
    "off",
    "charging",
    "wet",
    "dry",
    "hot",
    "cold",
)

# (pattern, predicate, negate); the first that matches wins.
_PATTERNS: tuple[tuple[re.Pattern[str], str, bool], ...] = (
    (re.compile(r"^(?P<s>.+?) (?:is|are) (?P<o>[\w .-]+?)'s$", re.I), "belongs_to", False),
    (re.compile(r"^(?P<s>.+?) belongs? to (?P<o>.+)$", re.I), "belongs_to", False),
    (re.compile(r"^(?P<s>.+?) (?:is|are) (?:not|no longer) (?:in|inside|at) (?P<o>.+)$", re.I), "located_in", True),
    (re.compile(r"^(?P<s>.+?) (?:is|are) (?:now |usually |always )?(?:in|inside|at) (?P<o>.+)$", re.I), "in", False),
    (re.compile(r"^(?P<s>.+?) (?:is|are) (?:now )?on (?:top of )?(?P<o>.+)$", re.I), "on", False),
    (re.compile(r"^(?P<s>.+?) (?:is|are) (?P<o>" + "|".join(_STATES) + r")$", re.I), "state", False),
    (re.compile(r"^(?P<s>.+?) (?:is|are) (?:a|an) (?P<o>.+)$", re.I), "is_a", False),
)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def strip_articles(name: str) -> str:
    n = name.strip().strip(".!?,;:'\"")
    while True:
        m = _ARTICLES.match(n)
        if not m:
            return n
        n = n[m.end() :]


def parse_fact_text(text: str) -> tuple[str, str, str, float | None, bool] | None:
    """Parse "subject | predicate | object [| confidence | false]" -> (s, p, o, confidence, retract)."""
    parts = [p.strip() for p in text.split("|")]
    if len(parts) < 3 or len(parts) > 4 or not all(parts[:3]):
        return None
    conf: float | None = None
    retract = False
    if len(parts) == 4:
        extra = parts[3].lower()
        if extra in ("false", "no", "not", "retract", "invalid", "0"):
            retract = True
        else:
            try:
                conf = float(extra)
            except ValueError:
                return None
            if not 0.0 <= conf <= 1.0 or not math.isfinite(conf):
                return None
    pred = slug(parts[1])
    if not pred:
        return None
    return parts[0], pred, parts[2], conf, retract


def parse_statement(text: str) -> tuple[str, str, str, bool] | None:
    """A simple pattern parser for statements in instructions: (subject, predicate, object, negate) or None."""
    t = text.strip().rstrip(".!")
    t = _PREFIX.sub("", t)
    if not t or len(t) > 300 or "?" in t:
        return None
    for pat, pred, neg in _PATTERNS:
        m = pat.match(t)
        if m:
            s, o = strip_articles(m.group("s")), strip_articles(m.group("o"))
            if s and o:
                return s, pred, o, neg
    return None


def verb_target(action: str) -> tuple[str, str] | None:
    """ "open drawer_2" -> ("open", "drawer_2"); "pick up the red mug" -> ("pick up", "red mug")."""
    w = strip_articles(action.strip().lower()).split()
    if len(w) < 2:
        return None
    verb, rest = w[0], w[1:]
    if rest and rest[0] in ("up", "down", "out", "off", "on", "in") and len(rest) > 1:
        verb, rest = f"{verb} {rest[0]}", rest[1:]
    target = strip_articles(" ".join(rest))
    return (verb, target) if target else None
