"""Context: text block, tensor layout and masking, the reference attention module."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from robomem.planning.context import (
    EXTRA_DIM,
    TOKEN_LAYOUT,
    Context,
    Goal,
    GoalProposal,
    MemoryAttention,
    RobotState,
    token_dim,
    token_layout,
)
from robomem.retrieval.query import ENTRY_KINDS, Entry


def entries() -> list[Entry]:
    parts = {"relevance": 1.0, "recency": 0.9, "importance": 0.2, "confidence": 0.8, "distance": 0.5}
    return [
        Entry(
            "object:2",
            "object",
            "spatial",
            "red mug #2 at (1.00, 2.00, 0.80) in the kitchen",
            90.0,
            (1.0, 2.0, 0.8),
            "kitchen",
            (2,),
            parts=parts,
            score=1.7,
        ),
        Entry(
            "absence:5",
            "absence",
            "temporal",
            "white mug #5 NOT found at its remembered place",
            95.0,
            (3.0, 0.0, 0.8),
            None,
            (5,),
            parts={"relevance": 0.8},
            score=1.1,
        ),
        Entry(
            "episode:1",
            "episode",
            "episodic",
            "episode #1 'bring the mug': failed",
            40.0,
            None,
            None,
            (),
            parts={"relevance": 0.6, "recency": 0.5},
            score=0.9,
        ),
        Entry("fact:3", "fact", "semantic", "mugs usually_in kitchen", None, None, "kitchen", (), score=0.5),
    ]


def make_ctx(embedder, superseded=None) -> Context:
    state = RobotState((1.0, 0.0, 0.0), math.pi / 2, 100.0)  # facing +y
    props = (
        GoalProposal(
            "object",
            0.9,
            "red mug #2 last seen t=90.0s",
            (1.0, 2.0, 0.8),
            object_id=2,
            label="red mug",
            place="kitchen",
        ),
        GoalProposal("explore", 0.0, "if that fails, explore"),
    )
    return Context(Goal("find the red mug"), state, 100.0, tuple(entries()), props, superseded or {}, embedder=embedder)


def test_token_layout_is_documented_and_contiguous():
    lay = token_layout(384)
    assert lay == TOKEN_LAYOUT
    assert token_dim(384) == 384 + EXTRA_DIM == 404
    cols = sorted((s.start, s.stop) for s in lay.values())
    assert cols[0][0] == 0 and cols[-1][1] == token_dim(384)
    assert all(a[1] == b[0] for a, b in zip(cols, cols[1:], strict=False)), "slices tile the token"
    assert lay["kind"].stop - lay["kind"].start == len(ENTRY_KINDS)
    with pytest.raises(ValueError):
        token_layout(0)


def test_tensor_layout_values_and_mask(embedder):
    ctx = make_ctx(embedder)
    tokens, mask = ctx.tensor(6)
    assert tokens.dtype == torch.float32 and mask.dtype == torch.bool
    assert tokens.shape == (6, token_dim(embedder.dim)) and mask.tolist() == [True] * 4 + [False] * 2
    assert torch.count_nonzero(tokens[4:]) == 0, "padding rows are zero"
    lay = token_layout(embedder.dim)
    t = tokens.numpy()
    # Embedding: the entry text's vector.
    np.testing.assert_allclose(t[0, lay["embedding"]], embedder.embed([entries()[0].text])[0], atol=1e-6)
    # Position relative to the robot at (1, 0) facing +y: the mug at (1, 2, 0.8) is 2 m ahead, 0.8 m up.
    np.testing.assert_allclose(t[0, lay["rel_position"]], [2.0, 0.0, 0.8], atol=1e-6)
    # The absence at (3, 0): 2 m to the robot's right (y left is negative).
    np.testing.assert_allclose(t[1, lay["rel_position"]], [0.0, -2.0, 0.8], atol=1e-6)
    assert t[0, lay["has_position"]][0] == 1.0 and t[2, lay["has_position"]][0] == 0.0
    assert t[2, lay["rel_position"]].tolist() == [0.0, 0.0, 0.0]
    assert t[0, lay["age"]][0] == pytest.approx(math.log1p(10.0))
    assert t[3, lay["has_stamp"]][0] == 0.0 and t[3, lay["age"]][0] == 0.0
    kinds = [ENTRY_KINDS[int(np.argmax(t[i, lay["kind"]]))] for i in range(4)]
    assert kinds == ["object", "absence", "episode", "fact"]
    assert all(t[i, lay["kind"]].sum() == 1.0 for i in range(4))
    assert t[0, lay["score"]][0] == pytest.approx(1.7)
    np.testing.assert_allclose(t[0, lay["parts"]], [1.0, 0.9, 0.2, 0.8, 0.5], atol=1e-6)
    # Fewer slots than entries: the best k, all valid.
    tokens2, mask2 = ctx.tensor(2)
    assert mask2.all() and torch.equal(tokens2, tokens[:2])
    with pytest.raises(ValueError):
        ctx.tensor(0)


def test_empty_context_tensor_is_all_masked(embedder):
    ctx = Context(
        Goal(label="keys"),
        RobotState((0, 0)),
        1.0,
        (),
        (GoalProposal("explore", 0.0, "nothing known"),),
        embedder=embedder,
    )
    tokens, mask = ctx.tensor(4)
    assert not mask.any() and torch.count_nonzero(tokens) == 0
    assert "nothing relevant" in ctx.text()
    assert not ctx.knows_goal


def test_text_is_timestamped_with_place_and_source_and_flags_conflicts(embedder):
    ctx = make_ctx(embedder, superseded={"object:2": "absence:5"})
    text = ctx.text()
    lines = text.split("\n")
    assert lines[0] == "GOAL: find the red mug"
    assert "PROPOSAL 1: object at (1.00, 2.00, 0.80) in the kitchen, confidence 0.90" in text
    mem_lines = lines[lines.index(next(ln for ln in lines if ln.startswith("MEMORY"))) + 1 :]
    assert len(mem_lines) == 4
    assert mem_lines[0].startswith("[t=90.0s (10s ago) | kitchen | spatial/object] red mug #2")
    assert mem_lines[0].endswith("[SUPERSEDED by absence:5]")
    assert "| (3.00, 0.00) | temporal/absence]" in mem_lines[1]
    assert mem_lines[3].startswith("[t=? | kitchen | semantic/fact]")
    d = ctx.to_dict()
    assert d["entries"][0]["parts"]["relevance"] == 1.0 and d["proposals"][0]["kind"] == "object"


def test_memory_attention_ignores_masked_tokens_and_handles_empty_memory():
    torch.manual_seed(0)
    d = token_dim(384)
    net = MemoryAttention(d, d_model=32, n_heads=4)
    tokens = torch.randn(3, 5, d)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.bool)
    out = net(tokens, mask)
    assert out.shape == (3, 32) and torch.isfinite(out).all()
    assert torch.count_nonzero(out[2]) == 0, "no memory -> zeros, not NaN"
    changed = tokens.clone()
    changed[0, 2:] = 100.0  # garbage in masked slots
    assert torch.allclose(net(changed, mask)[0], out[0], atol=1e-5)
    changed[0, 0] += 1.0  # a valid slot matters
    assert not torch.allclose(net(changed, mask)[0], out[0], atol=1e-5)
    out.sum().backward()
    assert net.proj[0].weight.grad is not None and torch.isfinite(net.proj[0].weight.grad).all()
    # Goal-conditioned query; a single unbatched context works too.
    qnet = MemoryAttention(d, d_model=16, n_heads=2, query_dim=8)
    assert qnet(tokens[0], mask[0], torch.randn(8)).shape == (1, 16)
    with pytest.raises(ValueError):
        qnet(tokens, mask)  # query missing
    with pytest.raises(ValueError):
        net(torch.randn(2, 5, d + 1), torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError):
        MemoryAttention(d, d_model=30, n_heads=4)


def test_value_objects_validate():
    with pytest.raises(ValueError):
        Goal(text="   ")
    with pytest.raises(ValueError):
        Goal(label=3)  # type: ignore[arg-type]
    assert Goal.of("mug") == Goal(text="mug")
    with pytest.raises(ValueError):
        RobotState((0, 0, 0), yaw=float("inf"))
    with pytest.raises(ValueError):
        GoalProposal("teleport", 0.5, "")
    with pytest.raises(ValueError):
        GoalProposal("object", 1.5, "")
    s = RobotState((0.0, 0.0))
    assert s.position == (0.0, 0.0, 0.0)
    np.testing.assert_allclose(RobotState((0, 0, 0), math.pi).relative((-1.0, 0.0, 0.0)), (1.0, 0.0, 0.0), atol=1e-9)


def test_state_from_camera_pose():
    from robomem.testing.synthetic import look_at

    s = RobotState.from_pose(look_at((1.0, 1.0, 1.5), (1.0, 3.0, 0.5)), 7.0)
    assert s.position == pytest.approx((1.0, 1.0, 1.5))
    assert s.yaw == pytest.approx(math.pi / 2) and s.time == 7.0
