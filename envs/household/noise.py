"""A perception-noise model for the household simulator: what a robot's sensors and detector would publish.

The simulator renders perfect frames (exact pose, exact depth, exact instance masks and labels).
:class:`PerceptionNoise` turns each rendered :class:`~robomem.envs.household.state.HouseholdFrame`
into what a real robot would publish, seeded and at a named level (:data:`LEVELS`):

- **pose**: odometry drift (a random walk that grows with the distance travelled and the angle
  turned) which a relocalisation pulls back every ``relocalise_s`` seconds, plus per-frame jitter;
  and camera-to-TF stamp jitter: the pose published with a frame is the pose up to
  ``stamp_jitter`` seconds earlier (interpolated towards the previous frame's pose);
- **depth**: Gaussian noise with sigma = ``depth_sigma_z2`` * z^2 (structured-light / stereo
  sensors), invalid pixels (0) at depth discontinuities, beyond ``depth_range`` and at random;
- **masks**: each instance's mask eroded or dilated by up to ``mask_px`` pixels per frame;
- **detections**: each instance missed with probability ``miss`` per frame; label confusions from
  :data:`SYNONYMS` (another name of the same thing: mug -> cup) and :data:`LOOKALIKES` (another
  kind of thing that looks alike: mug -> bowl); some instances are *usually* named by a synonym
  (``alias_bias``: a detector that mostly says "cup" for one mug); false-positive blobs with random
  labels on the background (Poisson, ``false_positives`` per frame); scores drawn from
  ``score_true`` for right labels and ``score_wrong`` for confused labels and false positives;
- **frames**: dropped with probability ``drop_frame``.

Ground truth stays the truth: the simulator's state and its rendered frame are untouched; the
published frame is a new one, and :attr:`NoisyFrame.truth` says which true instance each published
instance id is (0 for a false positive), for scoring only.

The levels (``clean`` changes nothing; numbers per frame at 320x240, tours of ~10-20 m a day):

======================  =======  ==============  ==============
parameter               clean    robot           hard
======================  =======  ==============  ==============
drift (xy per m, yaw)   0        2 cm, 0.6 deg   5 cm, 1.7 deg
relocalise / keeps      -        30 s / 30 %     60 s / 50 %
jitter xy, yaw          0        1 cm, 0.25 deg  2 cm, 0.6 deg
stamp jitter (s)        0        0.015           0.04
depth sigma at 1/3 m    0        4 mm / 3.6 cm   8 mm / 7 cm
depth range (m)         -        6.0             4.5
mask erode/dilate (px)  0        1               3
missed per instance     0        10 %            25 %
confusion per detection 0        5 %             12 %
alias-biased instances  0        30 %            50 %
false positives/frame   0        0.3             1.0
scores right / wrong    1.0      0.55-0.95 / .4-.7  0.4-0.9 / .4-.8
dropped frames          0        3 %             8 %
======================  =======  ==============  ==============
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .layout import CAMERA_HEIGHT
from .sim import camera_rotation
from .state import AgentState, HouseholdFrame

__all__ = [
    "FALSE_POSITIVE_ID0",
    "LEVELS",
    "LOOKALIKES",
    "SYNONYMS",
    "NoiseConfig",
    "NoisyFrame",
    "PerceptionNoise",
    "noise_level",
]

FALSE_POSITIVE_ID0 = 30000  # published ids of false-positive blobs start here (16-bit instance images)

# Another name for the same thing (head noun or whole label); colour words are kept ("red mug" -> "red cup").
SYNONYMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "mug": ("cup",),
        "frying pan": ("skillet",),
        "potted plant": ("houseplant",),
        "remote control": ("tv remote",),
        "sofa": ("couch",),
        "television": ("tv",),
        "moka pot": ("coffee pot",),
        "soup can": ("tin can",),
        "plate": ("dish",),
        "bookshelf": ("bookcase",),
        "nightstand": ("bedside table",),
        "teddy bear": ("stuffed animal",),
        "book": ("notebook",),
    }
)
# Another kind of thing that looks alike (the detector's real mistakes).
LOOKALIKES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "mug": ("bowl",),
        "bowl": ("mug", "plate"),
        "plate": ("bowl",),
        "apple": ("tomato",),
        "milk carton": ("orange juice carton",),
        "orange juice carton": ("milk carton",),
        "book": ("box",),
        "popcorn box": ("book",),
        "ketchup bottle": ("soup can",),
        "soup can": ("ketchup bottle",),
        "remote control": ("phone",),
        "butter": ("soap",),
        "armchair": ("chair",),
        "chair": ("armchair",),
    }
)
# Labels a false-positive blob may carry: household names plus things that are not in the house.
FALSE_POSITIVE_LABELS = (
    "cup",
    "bottle",
    "box",
    "book",
    "bowl",
    "shoe",
    "vase",
    "laptop",
    "umbrella",
    "backpack",
    "phone",
    "toy car",
    "chair",
    "plant",
    "teapot",
)


@dataclass(frozen=True)
class NoiseConfig:
    """One realism level; every number is per frame unless it says otherwise (see the module docstring)."""

    level: str
    drift_xy_per_m: float = 0.0  # std (m) of the xy random walk per sqrt(metre travelled)
    drift_yaw_per_rad: float = 0.0  # std (rad) of the heading random walk per sqrt(rad turned)
    drift_yaw_per_m: float = 0.0  # std (rad) of the heading random walk per sqrt(metre travelled)
    relocalise_s: float = 0.0  # a relocalisation every this many seconds (0 = never) ...
    relocalise_keep: float = 0.0  # ... keeps this share of the drift
    jitter_xy: float = 0.0  # std (m)
    jitter_yaw: float = 0.0  # std (rad)
    stamp_jitter: float = 0.0  # std (s) of the camera-to-TF stamp offset
    depth_sigma_z2: float = 0.0  # sigma = this * z^2 (m)
    depth_range: float = math.inf  # m; farther reads invalid
    depth_edge_jump: float = 0.08  # m between neighbour pixels = a depth discontinuity
    depth_edge_invalid: float = 0.0  # probability a discontinuity pixel reads invalid
    depth_dropout: float = 0.0  # probability any pixel reads invalid
    mask_px: int = 0  # masks eroded or dilated by up to this many pixels
    miss: float = 0.0  # probability an instance is not detected
    confusion: float = 0.0  # probability a detection carries another label from the tables
    alias_bias: float = 0.0  # share of instances (with a synonym) the detector usually names by it
    alias_rate: float = 0.7  # how often such an instance is named by its synonym
    false_positives: float = 0.0  # mean false-positive blobs per frame (Poisson)
    fp_radius_px: tuple[float, float] = (5.0, 25.0)  # blob radii (px at 320 wide; scaled with the width)
    score_true: tuple[float, float] = (1.0, 1.0)  # uniform range for a detection with its right label
    score_wrong: tuple[float, float] = (1.0, 1.0)  # ... for a confused label or a false positive
    drop_frame: float = 0.0  # probability a frame is not published

    def __post_init__(self) -> None:
        for name in ("miss", "confusion", "alias_bias", "alias_rate", "depth_edge_invalid", "depth_dropout"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"NoiseConfig.{name}: must be in [0, 1], got {v}")
        if not 0.0 <= self.drop_frame < 1.0:
            raise ValueError(f"NoiseConfig.drop_frame: must be in [0, 1), got {self.drop_frame}")
        if self.mask_px < 0 or self.false_positives < 0 or self.depth_range <= 0:
            raise ValueError("NoiseConfig: mask_px and false_positives must be >= 0, depth_range > 0")
        for name in ("score_true", "score_wrong"):
            lo, hi = getattr(self, name)
            if not 0.0 < lo <= hi <= 1.0:
                raise ValueError(f"NoiseConfig.{name}: need 0 < lo <= hi <= 1, got {(lo, hi)}")

    @property
    def is_clean(self) -> bool:
        return self == NoiseConfig(self.level)


LEVELS: Mapping[str, NoiseConfig] = MappingProxyType(
    {
        "clean": NoiseConfig("clean"),
        "robot": NoiseConfig(
            "robot",
            drift_xy_per_m=0.02,
            drift_yaw_per_rad=0.004,
            drift_yaw_per_m=0.01,
            relocalise_s=30.0,
            relocalise_keep=0.3,
            jitter_xy=0.01,
            jitter_yaw=0.0044,
            stamp_jitter=0.015,
            depth_sigma_z2=0.004,
            depth_range=6.0,
            depth_edge_invalid=0.5,
            depth_dropout=0.01,
            mask_px=1,
            miss=0.10,
            confusion=0.05,
            alias_bias=0.3,
            false_positives=0.3,
            score_true=(0.55, 0.95),
            score_wrong=(0.4, 0.7),
            drop_frame=0.03,
        ),
        "hard": NoiseConfig(
            "hard",
            drift_xy_per_m=0.05,
            drift_yaw_per_rad=0.012,
            drift_yaw_per_m=0.03,
            relocalise_s=60.0,
            relocalise_keep=0.5,
            jitter_xy=0.02,
            jitter_yaw=0.01,
            stamp_jitter=0.04,
            depth_sigma_z2=0.008,
            depth_range=4.5,
            depth_edge_invalid=0.8,
            depth_dropout=0.03,
            mask_px=3,
            miss=0.25,
            confusion=0.12,
            alias_bias=0.5,
            false_positives=1.0,
            score_true=(0.4, 0.9),
            score_wrong=(0.4, 0.8),
            drop_frame=0.08,
        ),
    }
)


def noise_level(level: str | NoiseConfig) -> NoiseConfig:
    """The config of a level name (``clean``, ``robot``, ``hard``); a NoiseConfig passes through."""
    if isinstance(level, NoiseConfig):
        return level
    cfg = LEVELS.get(str(level))
    if cfg is None:
        raise ValueError(f"realism: unknown level {level!r}; choose one of {', '.join(LEVELS)}")
    return cfg


def _alternatives(label: str, table: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Other labels for ``label`` from ``table``: the whole label, else its head noun (attributes kept)."""
    if label in table:
        return table[label]
    words = label.split(" ")
    for n in range(1, len(words)):  # longest tail first: "white mug" -> "mug"
        tail = " ".join(words[n:])
        if tail in table:
            return tuple(" ".join([*words[:n], alt]) for alt in table[tail])
    return ()


@dataclass(frozen=True)
class NoisyFrame:
    """What the robot publishes for one rendered frame.  ``frame`` has the noisy depth, masks,
    labels and pose (``frame.agent`` is the drifted pose estimate); ``scores`` is the detector's
    score per published instance id; ``truth`` maps each published id to the true instance id
    (0: a false positive); ``stamp_offset`` is the camera stamp minus the TF stamp (s)."""

    frame: HouseholdFrame
    scores: Mapping[int, float]
    truth: Mapping[int, int]
    stamp_offset: float = 0.0
    missed: tuple[int, ...] = field(default=())  # true instance ids not detected in this frame


def _agent_pose(a: AgentState) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = camera_rotation(a.yaw, a.pitch)
    m[:3, 3] = (a.x, a.y, CAMERA_HEIGHT)
    return m


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def _grow(mask: np.ndarray, free: np.ndarray) -> np.ndarray:
    """One pixel of 4-neighbour dilation of ``mask`` into ``free`` pixels."""
    g = mask.copy()
    g[1:, :] |= mask[:-1, :]
    g[:-1, :] |= mask[1:, :]
    g[:, 1:] |= mask[:, :-1]
    g[:, :-1] |= mask[:, 1:]
    return g & (free | mask)


def _shrink(mask: np.ndarray) -> np.ndarray:
    """One pixel of 4-neighbour erosion."""
    s = mask.copy()
    s[1:, :] &= mask[:-1, :]
    s[:-1, :] &= mask[1:, :]
    s[:, 1:] &= mask[:, :-1]
    s[:, :-1] &= mask[:, 1:]
    return s


class PerceptionNoise:
    """Seeded perception noise at one level; feed it the frames of one run in order.

    >>> noise = PerceptionNoise("robot", seed=0)
    >>> published = noise.apply(sim.observe())  # None when the frame was dropped
    """

    def __init__(self, level: str | NoiseConfig = "robot", seed: int = 0) -> None:
        self.config = noise_level(level)
        self.seed = int(seed)
        self._rng = np.random.default_rng([self.seed, 15])
        self._err = np.zeros(3)  # drift: x, y, yaw
        self._prev: AgentState | None = None
        self._last_reloc: float | None = None
        self._alias: dict[tuple[int, str], bool] = {}

    @property
    def drift(self) -> tuple[float, float, float]:
        """The current odometry drift (dx, dy, dyaw): published minus true, before jitter."""
        return (float(self._err[0]), float(self._err[1]), float(self._err[2]))

    def apply(self, frame: HouseholdFrame) -> NoisyFrame | None:
        """The published version of ``frame``, or None when this frame is dropped."""
        cfg = self.config
        truth = {int(i): int(i) for i in frame.labels}
        if cfg.is_clean:
            return NoisyFrame(frame, {i: 1.0 for i in frame.labels}, truth)
        rng = self._rng
        agent = self._advance_drift(frame)
        if rng.random() < cfg.drop_frame:
            return None
        offset = float(rng.normal(0.0, cfg.stamp_jitter)) if cfg.stamp_jitter > 0 else 0.0
        pub_agent = self._published_agent(frame, agent, offset)
        depth = self._depth(frame.depth)
        inst, labels, scores, truth, missed = self._detections(frame, depth)
        out = HouseholdFrame(
            frame.rgb,
            depth,
            inst,
            labels,
            _agent_pose(pub_agent),
            frame.intrinsics,
            frame.stamp,
            pub_agent,
            frame.room,
            scores,
        )
        return NoisyFrame(out, MappingProxyType(scores), MappingProxyType(truth), offset, missed)

    # -- pose -------------------------------------------------------------------------
    def _advance_drift(self, frame: HouseholdFrame) -> AgentState:
        cfg, rng, a = self.config, self._rng, frame.agent
        if self._prev is not None:
            dist = math.hypot(a.x - self._prev.x, a.y - self._prev.y)
            turn = abs(_wrap(a.yaw - self._prev.yaw))
            if dist > 0:
                self._err[:2] += rng.normal(0.0, cfg.drift_xy_per_m * math.sqrt(dist), 2)
            yaw_sd = math.hypot(cfg.drift_yaw_per_rad * math.sqrt(turn), cfg.drift_yaw_per_m * math.sqrt(dist))
            if yaw_sd > 0:
                self._err[2] += rng.normal(0.0, yaw_sd)
        if self._last_reloc is None:
            self._last_reloc = frame.stamp
        if cfg.relocalise_s > 0 and frame.stamp - self._last_reloc >= cfg.relocalise_s:
            self._err *= cfg.relocalise_keep
            self._last_reloc = frame.stamp
        prev = self._prev
        self._prev = a
        return a if prev is None else prev

    def _published_agent(self, frame: HouseholdFrame, prev: AgentState, offset: float) -> AgentState:
        """Drift + jitter on the pose, taken |offset| seconds early (towards the previous frame's pose)."""
        cfg, rng, a = self.config, self._rng, frame.agent
        lag = min(1.0, abs(offset) / 0.5)  # the simulator's step is 0.5 s
        x = a.x + (prev.x - a.x) * lag
        y = a.y + (prev.y - a.y) * lag
        yaw = a.yaw + _wrap(prev.yaw - a.yaw) * lag
        pitch = a.pitch + (prev.pitch - a.pitch) * lag
        jx, jy = rng.normal(0.0, cfg.jitter_xy, 2) if cfg.jitter_xy > 0 else (0.0, 0.0)
        jyaw = float(rng.normal(0.0, cfg.jitter_yaw)) if cfg.jitter_yaw > 0 else 0.0
        return AgentState(
            float(x + self._err[0] + jx), float(y + self._err[1] + jy), _wrap(yaw + self._err[2] + jyaw), pitch
        )

    # -- depth ------------------------------------------------------------------------
    def _depth(self, depth: np.ndarray) -> np.ndarray:
        cfg, rng = self.config, self._rng
        d = np.array(depth, dtype=np.float32, copy=True)
        valid = np.isfinite(d) & (d > 0)
        if cfg.depth_sigma_z2 > 0:
            z = d[valid]
            d[valid] = z + rng.normal(0.0, 1.0, z.shape).astype(np.float32) * (cfg.depth_sigma_z2 * z * z)
        bad = ~valid | (d <= 0.05) | (d > cfg.depth_range)
        if cfg.depth_edge_invalid > 0:
            with np.errstate(invalid="ignore"):
                jx = np.abs(np.diff(depth, axis=1)) > cfg.depth_edge_jump
                jy = np.abs(np.diff(depth, axis=0)) > cfg.depth_edge_jump
            edge = np.zeros_like(bad)
            edge[:, 1:] |= jx
            edge[:, :-1] |= jx
            edge[1:, :] |= jy
            edge[:-1, :] |= jy
            bad |= edge & (rng.random(d.shape) < cfg.depth_edge_invalid)
        if cfg.depth_dropout > 0:
            bad |= rng.random(d.shape) < cfg.depth_dropout
        d[bad] = 0.0
        return d

    # -- detections -------------------------------------------------------------------
    def _label(self, iid: int, label: str) -> tuple[str, bool]:
        """(published label, right?) for one detection of instance ``iid``."""
        cfg, rng = self.config, self._rng
        syn = _alternatives(label, SYNONYMS)
        if syn:
            key = (iid, label)
            if key not in self._alias:  # is this instance one the detector usually names by a synonym?
                self._alias[key] = bool(rng.random() < cfg.alias_bias)
            if self._alias[key] and rng.random() < cfg.alias_rate:
                return str(rng.choice(syn)), True  # another name of the same thing: still right
        if cfg.confusion > 0 and rng.random() < cfg.confusion:
            alts = syn + _alternatives(label, LOOKALIKES)
            if alts:
                alt = str(rng.choice(alts))
                return alt, alt in syn
        return label, True

    def _detections(
        self, frame: HouseholdFrame, depth: np.ndarray
    ) -> tuple[np.ndarray, dict[int, str], dict[int, float], dict[int, int], tuple[int, ...]]:
        cfg, rng = self.config, self._rng
        true_inst = np.asarray(frame.instances)
        inst = np.array(true_inst, dtype=np.int32, copy=True)
        labels: dict[int, str] = {}
        scores: dict[int, float] = {}
        truth: dict[int, int] = {}
        missed: list[int] = []
        h, w = inst.shape
        for iid, true_label in sorted(frame.labels.items()):
            if rng.random() < cfg.miss:
                inst[inst == iid] = 0
                missed.append(iid)
                continue
            if cfg.mask_px > 0:
                self._morph(inst, iid, int(rng.integers(-cfg.mask_px, cfg.mask_px + 1)))
            if not (inst == iid).any():
                continue
            label, right = self._label(iid, true_label)
            lo, hi = cfg.score_true if right else cfg.score_wrong
            labels[iid] = label
            scores[iid] = round(float(rng.uniform(lo, hi)), 3)
            truth[iid] = iid
        n_fp = int(rng.poisson(cfg.false_positives)) if cfg.false_positives > 0 else 0
        background = (true_inst == 0) & (depth > 0)
        vv, uu = np.mgrid[0:h, 0:w]
        scale = w / 320.0
        for k in range(n_fp):
            r = float(rng.uniform(*cfg.fp_radius_px)) * scale
            cu, cv = float(rng.uniform(0, w)), float(rng.uniform(0, h))
            blob = ((uu - cu) / r) ** 2 + ((vv - cv) / (r * float(rng.uniform(0.5, 1.5)))) ** 2 <= 1.0
            blob &= background & (inst == 0)
            if not blob.any():
                continue
            fid = FALSE_POSITIVE_ID0 + k
            inst[blob] = fid
            labels[fid] = str(rng.choice(FALSE_POSITIVE_LABELS))
            scores[fid] = round(float(rng.uniform(*cfg.score_wrong)), 3)
            truth[fid] = 0
        return inst, labels, scores, truth, tuple(missed)

    @staticmethod
    def _morph(inst: np.ndarray, iid: int, r: int) -> None:
        """Erode (r < 0) or dilate into the background (r > 0) instance ``iid``'s mask by |r| pixels, in place."""
        if r == 0:
            return
        vv, uu = np.nonzero(inst == iid)
        if len(vv) == 0:
            return
        h, w = inst.shape
        v0, v1 = max(0, int(vv.min()) - abs(r)), min(h, int(vv.max()) + abs(r) + 1)
        u0, u1 = max(0, int(uu.min()) - abs(r)), min(w, int(uu.max()) + abs(r) + 1)
        win = inst[v0:v1, u0:u1]
        mask = win == iid
        for _ in range(abs(r)):
            mask = _grow(mask, win == 0) if r > 0 else _shrink(mask)
        win[(win == iid) & ~mask] = 0
        win[mask] = iid


def published_pose_error(noisy: NoisyFrame, true_frame: HouseholdFrame) -> tuple[float, float]:
    """(xy error in m, yaw error in rad) of a published frame's pose against the truth."""
    a, b = noisy.frame.agent, true_frame.agent
    return math.hypot(a.x - b.x, a.y - b.y), abs(_wrap(a.yaw - b.yaw))
