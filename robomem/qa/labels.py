"""The one label rule: which remembered objects a name refers to.

Every front door (CLI verbs, free text, the ROS Query service, the eval, the
tools, the planner's targets) finds objects with :func:`match_label`.  Tiers are
tried in order and the first tier that matches anything wins, so a more literal
reading always beats a looser one:

1. ``exact``   - the object's label (the top of its label distribution) is the name
                 (score 1.0).
2. ``share``   - the name is in the object's label distribution with at least
                 ``MIN_SHARE`` of its votes (score = that share), and with votes enough to
                 have confirmed an object on their own (``ObjectRecord.name_evidence``, the
                 spatial ``confirm_evidence``): at ``robot`` a milk carton called "orange juice
                 carton" once (0.69 of 1.45 votes) answered "where is the orange juice carton",
                 a thing never seen.
3. ``head``    - the name is one word and is the head noun of the label: "mug" names
                 "red mug" and "white mug" (score ``HEAD_SCORE``); or of labels in the
                 distribution holding the share tier's share and votes ("books": an object
                 called "yellow notebook" 5.97 and "yellow book" 3.31).
4. ``synonym`` - the text embedding of the name and of the label have cosine
                 similarity >= ``SYNONYM_THRESHOLD`` ("couch" -> "sofa"), and the
                 two do not name a different colour or size of the same noun
                 ("red mug" is never "white mug"; "rubber duck" may be "toy duck").  Score = the similarity.  Skipped when the
                 embedder is the hashing fallback, which is not semantic.
5. ``compound`` - only when no tier above matched: the name is a modifier and a head noun
                 ("potted plant") and the label is one closed compound ending in that head
                 noun ("houseplant": a kind of plant, as the name is), the modifier being no
                 colour or size ("purple book" never names a "notebook"); score
                 ``COMPOUND_SCORE``.  MiniLM puts potted plant / houseplant at 0.44, far
                 below the synonym threshold: at ``robot`` the plant the detector mostly
                 called "houseplant" was never found by "potted plant" (every seed).

Synonym grouping (with a semantic embedder that is loaded): a label distribution is read by groups of
names for the same thing.  The labels in memory whose embedding is within ``SYNONYM_THRESHOLD`` of the
name (and name no other colour or size) count as the name: an object the detector mostly called "red
cup" is an ``exact`` match of "red mug" when the group holds at least ``GROUP_SHARE`` of its votes, a
``share`` match when at least ``min_share``; and a one-word name's head-noun tier takes head nouns
within the threshold ("mugs" counts the "white cup").  Votes are detector scores, so a confident
label outweighs a doubtful one.  A lazily loaded embedder that has not loaded yet gives no grouping
(the literal tiers answer without loading a model), and the synonym tier then loads it as before.
Grouping reads only objects the detector did call by the name at least once (the literal name is in
the distribution): an object only ever called "sofa" is a ``synonym`` match of "couch", as before.

Only confirmed objects (``ObjectRecord.confirmed``: seen in enough frames with enough evidence) are
matched: a candidate seen once, such as a detector's false positive, names nothing.

Names are normalised first: lower case, articles and possessives dropped, a
plural reduced to its singular ("the mugs" -> "mug"); both the name as given and
its singular are tried in every tier.

``SYNONYM_THRESHOLD = 0.70`` was set from all-MiniLM-L6-v2 similarities between
household labels: true synonyms score 0.71-0.96 (cup/mug 0.71, armchair/chair
0.73, couch/sofa 0.86, tv/television 0.96), unrelated names at most 0.46
(umbrella/plant 0.46, unicorn/toy duck 0.41, giraffe/toy duck 0.41).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from robomem.errors import QueryError
from robomem.retrieval.embedding import Embedder
from robomem.submodules.spatial.memory import ObjectRecord

MIN_SHARE = 0.25
GROUP_SHARE = 0.5  # a synonym group holding this share of an object's votes names it outright
HEAD_SCORE = 0.9
COMPOUND_SCORE = 0.6  # below every synonym (>= SYNONYM_THRESHOLD): the loosest reading
SYNONYM_THRESHOLD = 0.70
HOW = ("exact", "share", "head", "synonym", "compound")

_ARTICLES = re.compile(r"^(?:the|a|an|my|our|your|his|her|their|this|that|these|those|some|any|all)(?:\s+|$)")
_WORDS = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_ATTRIBUTES = {
    *[
        "red",
        "white",
        "blue",
        "green",
        "yellow",
        "black",
        "orange",
        "purple",
        "pink",
        "brown",
        "grey",
        "gray",
        "silver",
        "golden",
        "gold",
        "beige",
    ],
    *["big", "small", "large", "little", "tall", "short", "dark", "light"],
}
_NOT_PLURAL = {"glass", "grass", "bus", "lens", "dress", "mattress", "chess", "series", "news", "headphones"}


@dataclass(frozen=True)
class LabelMatch:
    """One object a name refers to, and how: ``how`` in exact / share / head / synonym, ``score`` in (0, 1]."""

    object_id: int
    label: str  # the object's own label
    matched: str  # the label in its distribution that matched the name
    how: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "object_id": self.object_id,
            "label": self.label,
            "matched": self.matched,
            "how": self.how,
            "score": round(float(self.score), 3),
        }


def singular(word: str) -> str:
    """A simple English singular of one word ("mugs" -> "mug", "boxes" -> "box", "berries" -> "berry")."""
    w = word
    if len(w) <= 3 or w in _NOT_PLURAL or w.endswith(("ss", "us", "is")):
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("ches", "shes", "xes", "sses", "zes")):
        return w[:-2]
    if w.endswith("s"):
        return w[:-1]
    return w


def normalize_label(name: str) -> str:
    """Lower case, articles/possessives dropped, words joined by one space ("The Red  Mug's" -> "red mug")."""
    if not isinstance(name, str):
        raise QueryError(f"label: expected a string, got {type(name).__name__}")
    t = name.strip().lower()
    while True:
        t2 = _ARTICLES.sub("", t)
        if t2 == t:
            break
        t = t2
    words = [w[:-2] if w.endswith("'s") else w for w in _WORDS.findall(t)]
    return " ".join(words)


def name_forms(name: str) -> tuple[str, ...]:
    """The normalised name and, if different, the name with its last word singular."""
    n = normalize_label(name)
    if not n:
        return ()
    words = n.split(" ")
    s = " ".join([*words[:-1], singular(words[-1])])
    return (n,) if s == n else (n, s)


def _different_attribute(name: str, label: str) -> bool:
    """Same head noun, different colour or size: "red mug" vs "white mug", "big box" vs "small box"."""
    a, b = name.split(" "), normalize_label(label).split(" ")
    if len(a) < 2 or len(b) < 2 or singular(a[-1]) != singular(b[-1]):
        return False
    qa, qb = set(a[:-1]) & _ATTRIBUTES, set(b[:-1]) & _ATTRIBUTES
    return bool(qa or qb) and qa != qb


def _ready(embedder: Embedder | None) -> bool:
    """A semantic embedder that can answer without loading a model now."""
    return embedder is not None and not getattr(embedder, "is_fallback", False) and getattr(embedder, "loaded", True)


def _similarities(name: str, labels: Iterable[str], embedder: Embedder) -> dict[str, float]:
    labs = sorted(set(labels))
    if not labs:
        return {}
    vecs = embedder.embed([name, *labs])
    sims = np.clip(vecs[1:] @ vecs[0], 0.0, 1.0)
    return {lab: float(v) for lab, v in zip(labs, sims, strict=True)}


def match_label(
    name: str,
    objects: Iterable[ObjectRecord],
    embedder: Embedder | None = None,
    *,
    min_share: float = MIN_SHARE,
    threshold: float = SYNONYM_THRESHOLD,
) -> tuple[LabelMatch, ...]:
    """The objects ``name`` refers to, best first (score, then most recently seen, then id).

    ``()`` means nothing remembered is called that: callers abstain.  ``embedder`` is needed only
    for the synonym tier (it is not called when a literal tier matches, so a caller that passes a
    lazily loaded embedder loads no model for a name memory already knows).
    Raises ValueError for an empty name.
    """
    forms = name_forms(name)
    if not forms:
        raise QueryError(f"label: empty name {name!r}; say which object, e.g. 'red mug'")
    objs = [o for o in objects if o.confirmed]  # a candidate seen once (a false positive, say) names nothing
    found: list[tuple[LabelMatch, float]] = []
    norm: dict[str, str] = {}  # label -> normalised, once per distinct label (a store holds few)

    def nl(label: str) -> str:
        n = norm.get(label)
        if n is None:
            n = norm[label] = normalize_label(label)
        return n

    def done() -> tuple[LabelMatch, ...]:
        found.sort(key=lambda m: (-m[0].score, -m[1], m[0].object_id))
        return tuple(m for m, _ in found)

    # Which labels in memory name the same thing as the name: its literal forms, and (with a loaded semantic
    # embedder) labels within the synonym threshold that name no other colour or size.
    grouping = _ready(embedder) and bool(objs)
    same: set[str] = set()
    if grouping:
        assert embedder is not None
        sims = _similarities(forms[0], (lab for o in objs for lab in o.labels), embedder)
        same = {lab for lab, v in sims.items() if v >= threshold and not _different_attribute(forms[0], lab)}

    def names_it(label: str) -> bool:
        return nl(label) in forms or label in same

    def group_share(o: ObjectRecord) -> tuple[float, str, float]:
        """The share of the votes for the name's group, the group's top label and its votes, for an object the
        detector did call by the name."""
        total = sum(o.labels.values()) or 1.0
        votes = {lab: float(v) for lab, v in o.labels.items() if names_it(lab)}
        if not any(nl(lab) in forms for lab in votes):
            return 0.0, "", 0.0
        n = sum(votes.values())
        return n / total, max(votes.items(), key=lambda kv: (kv[1], kv[0]))[0], n

    for o in objs:
        if nl(o.label) in forms:
            found.append((LabelMatch(o.object_id, o.label, o.label, "exact", 1.0), o.last_seen))
        elif grouping:
            share, lab, _n = group_share(o)
            if share >= GROUP_SHARE:  # mostly called by another name of the same thing
                found.append((LabelMatch(o.object_id, o.label, lab, "exact", 1.0), o.last_seen))
    if found:
        return done()
    for o in objs:
        share, lab, n = group_share(o) if grouping else (0.0, "", 0.0)
        if not grouping:
            total = sum(o.labels.values()) or 1.0
            for cand, votes in o.labels.items():
                v = float(votes) / total
                if nl(cand) in forms and v > share:
                    share, lab, n = v, cand, float(votes)
        if lab and share >= min_share and n >= o.name_evidence:  # a doubtful look-alike vote names nothing
            found.append((LabelMatch(o.object_id, o.label, lab, "share", share), o.last_seen))
    if found:
        return done()
    one_word = [f for f in forms if " " not in f]

    def _head_share(o: ObjectRecord) -> bool:
        """A minority name whose head noun is the name, with the share tier's conditions ("books": an object
        called "yellow notebook" 5.97, "yellow book" 3.31; MiniLM puts book / notebook below the threshold)."""
        total = sum(o.labels.values()) or 1.0
        votes = sum(float(v) for lab, v in o.labels.items() if singular(nl(lab).rsplit(" ", 1)[-1]) in one_word)
        return votes / total >= min_share and votes >= o.name_evidence

    if one_word:
        heads = {nl(o.label).rsplit(" ", 1)[-1] for o in objs}
        near_heads: set[str] = set()
        if grouping:
            assert embedder is not None
            near_heads = {h for h, v in _similarities(one_word[-1], heads, embedder).items() if v >= threshold}
        for o in objs:
            h = nl(o.label).rsplit(" ", 1)[-1]
            own = {nl(lab).rsplit(" ", 1)[-1] for lab in o.labels}
            literal = bool(own & set(one_word)) or any(singular(x) in one_word for x in own)
            if h in one_word or singular(h) in one_word or (h in near_heads and literal) or _head_share(o):
                found.append((LabelMatch(o.object_id, o.label, o.label, "head", HEAD_SCORE), o.last_seen))
    if found or not objs:
        return done()
    if embedder is not None and not getattr(embedder, "is_fallback", False):
        sim = _similarities(forms[0], (o.label for o in objs), embedder)
        for o in objs:
            s = sim[o.label]
            if s >= threshold and not _different_attribute(forms[0], o.label):
                found.append((LabelMatch(o.object_id, o.label, o.label, "synonym", s), o.last_seen))
        if found:
            return done()
    for o in objs:
        if _compound_of(forms, nl(o.label)):
            found.append((LabelMatch(o.object_id, o.label, o.label, "compound", COMPOUND_SCORE), o.last_seen))
    return done()


def _compound_of(forms: tuple[str, ...], label: str) -> bool:
    """Is ``label`` one closed compound ending in the head noun of a two-word name whose modifier is no colour
    or size ("houseplant" for "potted plant"; never "notebook" for "purple book")?"""
    if " " in label:
        return False
    for f in forms:
        words = f.split(" ")
        if len(words) != 2 or words[0] in _ATTRIBUTES:
            continue
        h = words[1]
        if len(h) >= 3 and len(label) >= len(h) + 3 and label.endswith(h):  # a real first part: "house" + "plant"
            return True
    return False


def match_head(
    noun: str,
    objects: Iterable[ObjectRecord],
    embedder: Embedder | None = None,
    *,
    threshold: float = SYNONYM_THRESHOLD,
) -> tuple[LabelMatch, ...]:
    """The head-noun tier alone, for a category ("mug": every red, white, floral mug, and, with a loaded
    semantic embedder, every cup): confirmed objects whose label's head noun is ``noun`` or a synonym of it."""
    forms = [f for f in name_forms(noun) if " " not in f]
    if not forms:
        raise QueryError(f"category: expected one noun, got {noun!r}")
    objs = [o for o in objects if o.confirmed]
    heads = {normalize_label(o.label).rsplit(" ", 1)[-1] for o in objs}
    near: set[str] = set()
    if _ready(embedder) and heads:
        assert embedder is not None
        near |= {h for h, v in _similarities(forms[-1], heads, embedder).items() if v >= threshold}
    out = []
    for o in objs:
        h = normalize_label(o.label).rsplit(" ", 1)[-1]
        own = {singular(normalize_label(lab).rsplit(" ", 1)[-1]) for lab in o.labels}
        if h in forms or singular(h) in forms or (h in near and bool(own & set(forms))):
            out.append(LabelMatch(o.object_id, o.label, o.label, "head", HEAD_SCORE))
    return tuple(out)


def match_memory(memory: Any, name: str, **kw: Any) -> tuple[LabelMatch, ...]:
    """:func:`match_label` over every object a :class:`~robomem.memory.Memory` remembers, with its embedder."""
    return match_label(name, memory.spatial.objects(), memory.embedder, **kw)


def narrow_by_name(name: str, tops: list[str], with_labels: Any, embedder: Any) -> list[Any]:
    """The objects ``name`` may refer to, a superset of what the label rule picks, read by label (at 10^5
    objects a record of every one costs seconds): literal tiers first (a label whose normalised form is the
    name, or whose head noun is the one-word name, also as a minority vote); only if the rule finds
    nothing among those, the labels it calls synonyms.  The engine and the fleet view (in SQL) both narrow with it."""
    forms = name_forms(name)
    if not forms:
        return []  # match_label raises the clear error for an empty name
    one_word = {f for f in forms if " " not in f}
    literal = set(forms)
    for k in tops:
        n = normalize_label(k)
        head = n.rsplit(" ", 1)[-1] if n else ""
        if n in forms or (one_word and (head in one_word or singular(head) in one_word)):
            literal.add(k)
    cands = with_labels(sorted(literal))
    if any(o.label in literal for o in cands) or (cands and match_label(name, cands, None)):
        return cands
    if not tops:
        return cands
    if embedder is not None and getattr(embedder, "is_fallback", False):
        embedder = None  # not semantic: no synonyms, but the rule's compound tier still reads every label
    probe = [
        ObjectRecord(i, lab, {lab: 1.0}, (0, 0, 0), (0, 0, 0), (0, 0, 0), 1, 0, 0, None, "present")
        for i, lab in enumerate(sorted(tops))
    ]
    return with_labels(sorted({m.label for m in match_label(name, probe, embedder)}))
