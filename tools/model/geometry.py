"""Geometry of the open face-model bundle: topologies T1 and T2 and the maps between them.

Paper reference: MoFA (TPAMI), Sec. 9.2 "Mesh Topology" — the analysis-by-synthesis
stage works on a topology T1; because T1 has near-degenerate faces, the neutral face is
remeshed to a more uniform topology T2, and results are transferred with a linear map
L: V^T1 -> V^T2. This module builds both topologies from MediaPipe's canonical face mesh.

Frames and units (see docs/CONTRIBUTING-helpers.md): millimetres; model frame +x = subject's
left, +y = up, +z = out of the face toward the camera. Faces are counter-clockwise seen
from outside the face (from +z for the frontal part): the canonical MediaPipe triangles are
already ordered that way (888 of 898 triangle normals have n_z > 0; the other 10 sit on the
lower surface of the upper lip / the nostril walls, where "outside" points down), and
every interior edge is traversed once in each direction.

Pipeline (build_geometry):
  1. remove_mouth_triangles: the 18 canonical triangles that fill the 20-gon of the inner
     lip contour are dropped, so T1 has a mouth hole (jawOpen opens a hole, no skin stretch).
     Eye surfaces stay closed.
  2. subdivide_butterfly (x2): interpolating modified-butterfly subdivision (Zorin et al.
     1996 stencils, 4-point rule on boundaries, the mouth corners 78/308 kept as cusps) —
     linear in the 468 positions, so T1 = S @ V468 with S sparse, rows 0..467 = identity.
  3. lscm_parametrization of T1 with the mouth hole temporarily strip-filled
     (mouth_fill_faces; otherwise the conformal map squeezes the hole into a slit), then
     untangle_parametrization for the 2 tiny cusp triangles LSCM flips. Only used to
     triangulate T2 and locate its vertices; the MediaPipe UV is interpolated by S.
  4. remesh_uniform: boundary loops resampled at the target spacing h, interior
     Poisson-disk (dart-throwing) sampling of T1 by 3-D distance, tangential 3-D Laplacian
     relaxation (moves mapped to the plane with each T1 triangle's Jacobian), Delaunay
     triangulation in the conformal plane; interior points keep a Gabriel clearance from
     the boundary segments so every boundary segment is a Delaunay edge, and the kept
     triangles are a flood fill that never crosses a boundary segment (no triangles across
     the mouth hole or outside the oval). Each T2 vertex is stored as barycentric weights in
     the T1 triangle that contains it -> L (3 indices + weights).
  5. landmarks/regions: iBUG-68 subset, front-face mask, named regions, one-ring CSR.

All steps are deterministic (fixed seed, stable sorts, no hash-order dependence).
"""
import os
import sys

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve
from scipy.spatial import Delaunay, cKDTree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mp_assets  # noqa: E402  (shared reader, used not edited)

#: Seed of the only random stage (Poisson-disk candidate generation for T2).
T2_SEED = 20260501
#: Target vertex count of T2 (sets the target edge length from T1's 3-D area).
T2_TARGET_VERTICES = 25000
#: Number of butterfly subdivision rounds from the 468-vertex mesh to T1.
T1_SUBDIVISION_ROUNDS = 2
#: Inner-lip corners (MediaPipe indices): cusps of the mouth-hole boundary.
MOUTH_CORNERS = (78, 308)
#: Poisson-disk radius over the target edge length (calibrated so N2 ~ T2_TARGET_VERTICES).
R_OVER_H = 0.71
#: Interior T2 points keep this multiple of a boundary segment's half length from its midpoint.
GABRIEL_MARGIN = 1.15
#: Tangential relaxation iterations for T2.
T2_RELAX_ITERATIONS = 12
#: Threshold (mm) of the nose protrusion over the smooth mid-face reference surface.
NOSE_PROTRUSION_MM = 2.0


class GeometryError(Exception):
    """Raised when an input or an intermediate mesh violates an invariant (code + message)."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code


# --------------------------------------------------------------------------------------
# generic mesh helpers


def unique_edges(faces):
    """Undirected edges of a triangle list: (E,2) int64, each row (min, max), sorted rows."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = np.sort(e, axis=1)
    return np.unique(e, axis=0)


def one_ring_csr(n_vertices, faces):
    """One-ring adjacency as CSR: (offsets (N+1,) int64, neighbors (nnz,) int64).

    Neighbours of vertex i are neighbors[offsets[i]:offsets[i+1]], sorted ascending,
    each listed once (two vertices are neighbours iff they share a triangle edge)."""
    faces = np.asarray(faces, dtype=np.int64)
    e = unique_edges(faces)
    both = np.concatenate([e, e[:, ::-1]])
    order = np.lexsort((both[:, 1], both[:, 0]))
    both = both[order]
    counts = np.bincount(both[:, 0], minlength=n_vertices)
    offsets = np.zeros(n_vertices + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets, both[:, 1].astype(np.int64)


def boundary_loops(faces):
    """Ordered boundary loops of an oriented manifold triangle mesh.

    Each loop follows the boundary half-edges in face order (interior on the left for a
    CCW mesh). Loops start at their smallest vertex index; returned sorted by length
    (longest first). Raises if the boundary is not a set of simple loops."""
    he = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = set(map(tuple, he.tolist()))
    nxt = {}
    for a, b in he.tolist():
        if (b, a) not in key:
            if a in nxt:
                raise GeometryError("NON_MANIFOLD_BOUNDARY", f"vertex {a} has two outgoing boundary edges")
            nxt[a] = b
    loops, seen = [], set()
    for s in sorted(nxt):
        if s in seen:
            continue
        loop, v = [], s
        while v not in seen:
            seen.add(v)
            loop.append(v)
            v = nxt[v]
        if v != s:
            raise GeometryError("NON_MANIFOLD_BOUNDARY", "boundary is not a set of simple loops")
        loops.append(np.asarray(loop, dtype=np.int64))
    loops.sort(key=lambda l: (-len(l), int(l[0])))
    return loops


def check_oriented_manifold(faces, n_vertices):
    """Raise unless every directed edge occurs once, every undirected edge at most twice
    (so opposite traversal => consistent orientation) and every vertex fan is one disk."""
    he = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    _, c = np.unique(he, axis=0, return_counts=True)
    if c.max() > 1:
        raise GeometryError("NOT_ORIENTED", "a directed edge occurs twice (flipped or duplicate triangle)")
    _, c = np.unique(np.sort(he, axis=1), axis=0, return_counts=True)
    if c.max() > 2:
        raise GeometryError("NON_MANIFOLD_EDGE", "an edge is shared by more than two triangles")
    boundary_loops(faces)  # raises on a non-simple boundary
    used = np.unique(faces)
    if len(used) != n_vertices:
        raise GeometryError("UNUSED_VERTEX", f"{n_vertices - len(used)} vertices are not used by any face")
    # vertex fans: the link edges (b, c) of the faces (v, b, c) must form one path or cycle
    for v_faces in _vertex_links(faces, n_vertices):
        nxt = dict(v_faces)
        if len(nxt) != len(v_faces):
            raise GeometryError("NON_MANIFOLD_VERTEX", "vertex link has a repeated start")
        starts = set(nxt) - set(nxt.values())
        if len(starts) > 1:
            raise GeometryError("NON_MANIFOLD_VERTEX", "vertex fan has more than one piece")
        s = next(iter(starts)) if starts else next(iter(nxt))
        k, x = 0, s
        while x in nxt and k <= len(nxt):
            x = nxt[x]
            k += 1
            if x == s:
                break
        if k != len(nxt):
            raise GeometryError("NON_MANIFOLD_VERTEX", "vertex fan has more than one piece")


def _vertex_links(faces, n_vertices):
    """Per vertex, the list of directed link edges (b, c) of its faces (v, b, c)."""
    links = [[] for _ in range(n_vertices)]
    for a, b, c in faces.tolist():
        links[a].append((b, c))
        links[b].append((c, a))
        links[c].append((a, b))
    return links


def triangle_angles_deg(vertices, faces):
    """Interior angles (F,3) in degrees of each triangle, in 3-D."""
    p = vertices[faces]
    out = np.empty((len(faces), 3))
    for k in range(3):
        u = p[:, (k + 1) % 3] - p[:, k]
        w = p[:, (k + 2) % 3] - p[:, k]
        cosang = np.einsum("ij,ij->i", u, w) / (np.linalg.norm(u, axis=1) * np.linalg.norm(w, axis=1))
        out[:, k] = np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0)))
    return out


def triangle_areas(vertices, faces):
    """3-D triangle areas (F,) in the units of vertices squared."""
    p = vertices[faces]
    return 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)


def signed_areas_2d(points, faces):
    """Signed areas (F,) of 2-D triangles (positive = counter-clockwise)."""
    p = points[faces]
    d1 = p[:, 1] - p[:, 0]
    d2 = p[:, 2] - p[:, 0]
    return 0.5 * (d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0])


def edge_lengths(vertices, faces):
    """Lengths (E,) of the unique edges."""
    e = unique_edges(faces)
    return np.linalg.norm(vertices[e[:, 0]] - vertices[e[:, 1]], axis=1)


def points_in_polygon(points, polygon):
    """Even-odd point-in-polygon test: points (M,2), polygon (K,2) closed implicitly -> (M,) bool."""
    x, y = points[:, 0][:, None], points[:, 1][:, None]
    x0, y0 = polygon[:, 0][None], polygon[:, 1][None]
    x1, y1 = np.roll(polygon[:, 0], -1)[None], np.roll(polygon[:, 1], -1)[None]
    crosses = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return np.sum(crosses & (x < xi), axis=1) % 2 == 1


# --------------------------------------------------------------------------------------
# step 1: lips and the mouth hole


def ordered_loops_from_edges(edges):
    """Split an edge list that forms disjoint simple cycles into ordered vertex loops
    (each starting at its smallest vertex, then towards its smaller neighbour)."""
    adj = {}
    for a, b in np.asarray(edges).tolist():
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    if any(len(n) != 2 for n in adj.values()):
        raise GeometryError("REGION_NOT_LOOP", "edge list is not a union of simple cycles")
    loops, seen = [], set()
    for s in sorted(adj):
        if s in seen:
            continue
        loop, prev, v = [s], s, min(adj[s])
        seen.add(s)
        while v != s:
            loop.append(v)
            seen.add(v)
            a, b = adj[v]
            prev, v = v, (b if a == prev else a)
        loops.append(np.asarray(loop, dtype=np.int64))
    return loops


def ordered_chains_from_edges(edges):
    """Split an edge list that forms disjoint simple open paths into ordered vertex chains
    (each starting at its smaller end vertex)."""
    adj = {}
    for a, b in np.asarray(edges).tolist():
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    ends = sorted(v for v, n in adj.items() if len(n) == 1)
    chains, seen = [], set()
    for s in ends:
        if s in seen:
            continue
        chain, prev, v = [s], None, s
        seen.add(s)
        while True:
            nxt = [w for w in adj[v] if w != prev]
            if not nxt:
                break
            prev, v = v, nxt[0]
            chain.append(v)
            seen.add(v)
        chains.append(np.asarray(chain, dtype=np.int64))
    return chains


def lip_rings(regions, uv):
    """(outer_ring, inner_ring) of FACEMESH_LIPS as ordered vertex loops; the inner ring is
    the loop with the smaller polygon area in the 2-D coordinates uv (N,2)."""
    loops = ordered_loops_from_edges(regions["FACEMESH_LIPS"]["edges"])
    if len(loops) != 2:
        raise GeometryError("LIPS_REGION", f"FACEMESH_LIPS has {len(loops)} loops, expected 2")
    areas = [abs(signed_areas_2d(uv[l], np.array([[0, i, i + 1] for i in range(1, len(l) - 1)])).sum())
             for l in loops]
    outer, inner = (loops[0], loops[1]) if areas[0] > areas[1] else (loops[1], loops[0])
    return outer, inner


def remove_mouth_triangles(faces, inner_ring, uv):
    """Drop the triangles filling the mouth opening.

    A triangle is a mouth-interior triangle iff all three vertices lie on the inner lip
    contour AND its UV centroid lies inside the inner-lip polygon (both criteria must
    agree). Returns (kept_faces (F-k,3), removed_indices (k,) into the input faces)."""
    ring = set(inner_ring.tolist())
    on_ring = np.array([set(t) <= ring for t in faces.tolist()])
    cen = uv[faces].mean(axis=1)
    inside = points_in_polygon(cen, uv[inner_ring])
    if not np.array_equal(on_ring, inside & on_ring) or np.any(inside & ~on_ring):
        raise GeometryError("MOUTH_TRIANGLES", "ring-vertex and inside-polygon criteria disagree")
    removed = np.where(on_ring)[0]
    if len(removed) != len(inner_ring) - 2:
        raise GeometryError("MOUTH_TRIANGLES", f"expected {len(inner_ring) - 2} mouth triangles, got {len(removed)}")
    return faces[~on_ring], removed


def mouth_fill_faces(faces, corners):
    """Strip triangulation of the mouth hole (used only for the conformal flattening, so
    the hole keeps a width comparable to its 3-D width instead of collapsing to a slit).

    The hole boundary loop (the loop containing both corners) is split at the corners into
    two chains with the same number of edges, zipped into quads, two triangles each
    (degenerate ones at the corners dropped), oriented to match the mesh. (2m-2, 3)."""
    loops = [l for l in boundary_loops(faces) if all(c in l.tolist() for c in corners)]
    if len(loops) != 1:
        raise GeometryError("MOUTH_HOLE", "no boundary loop through both mouth corners")
    loop = loops[0].tolist()
    i0 = loop.index(corners[0])
    loop = loop[i0:] + loop[:i0]
    i1 = loop.index(corners[1])
    A = loop[: i1 + 1]  # corner0 -> corner1 in boundary order
    B = (loop[i1:] + loop[:1])[::-1]  # corner0 -> corner1 along the other chain
    if len(A) != len(B):
        raise GeometryError("MOUTH_HOLE", f"lip chains differ in length ({len(A)} vs {len(B)})")
    out = []
    for i in range(len(A) - 1):
        for t in ((A[i + 1], A[i], B[i]), (B[i], B[i + 1], A[i + 1])):
            if len(set(t)) == 3:
                out.append(t)
    return np.asarray(out, dtype=np.int64)


# --------------------------------------------------------------------------------------
# step 2: modified butterfly subdivision (linear => sparse matrix)


def _butterfly_irregular_weights(k):
    """Zorin's modified-butterfly weights s_j (j = 0..k-1, j=0 at the edge's other end) for
    an edge incident to an interior vertex of valence k; the vertex itself gets 3/4."""
    if k == 3:
        return np.array([5.0 / 12.0, -1.0 / 12.0, -1.0 / 12.0])
    if k == 4:
        return np.array([3.0 / 8.0, 0.0, -1.0 / 8.0, 0.0])
    j = np.arange(k)
    return (0.25 + np.cos(2.0 * np.pi * j / k) + 0.5 * np.cos(4.0 * np.pi * j / k)) / k


def subdivide_butterfly(n_vertices, faces, corners=()):
    """One round of interpolating modified-butterfly subdivision.

    Old vertices keep their index and position; edge e (rows of unique_edges(faces)) gets
    the new vertex n_vertices + e. Stencils, for the new vertex on edge (a, b):
      * boundary edge: 4-point rule along the boundary loop, (-1, 9, 9, -1)/16; at a
        boundary corner (`corners`, e.g. the mouth corners where the upper and lower inner
        lip contours meet at a cusp) the neighbour across the corner is replaced by the
        linear extrapolation 2a - b, i.e. (7, 10, -1)/16, so the cusp stays a cusp
        instead of overshooting into a loop;
      * interior edge, both ends interior of valence 6: 8-point butterfly
        1/2 (a+b) + 1/8 (c+d) - 1/16 (4 wings);
      * one end interior with valence != 6: Zorin's irregular rule around that end (the
        average of both rules if both ends are interior and irregular);
      * one end on the boundary, the other interior (valence 6): the irregular rule of the
        interior end (with k = 6, it only needs that end's closed one-ring);
      * both ends on the boundary (interior edge): 8-point rule, a missing wing replaced by
        the ghost point x + y - z reflected across the edge (x, y) of the wing.
    Every stencil's weights sum to 1 (affine invariance).
    Returns (P: csr (n_vertices + E, n_vertices), new_faces (4F,3), edges (E,2))."""
    faces = np.asarray(faces, dtype=np.int64)
    edges = unique_edges(faces)
    edge_id = {(int(a), int(b)): i for i, (a, b) in enumerate(edges.tolist())}
    opp = {}
    for a, b, c in faces.tolist():
        opp[(a, b)] = c
        opp[(b, c)] = a
        opp[(c, a)] = b
    bnext = {a: b for (a, b) in opp if (b, a) not in opp}
    bprev = {b: a for a, b in bnext.items()}
    is_boundary = np.zeros(n_vertices, dtype=bool)
    is_boundary[list(bnext)] = True
    links = _vertex_links(faces, n_vertices)

    def ring(v, start):
        """Closed one-ring of interior vertex v, counter-clockwise, starting at `start`."""
        nxt = dict(links[v])
        out, x = [start], nxt[start]
        while x != start:
            out.append(x)
            x = nxt[x]
        return out

    def wing(x, y, z):
        """Vertex opposite the triangle (x, y, z) across its edge (x, y), as weights."""
        w = opp.get((y, x))
        if w is not None:
            return {w: 1.0}
        return {x: 1.0, y: 1.0, z: -1.0}  # ghost: parallelogram reflection of z

    rows, cols, vals = [], [], []
    for v in range(n_vertices):
        rows.append(v), cols.append(v), vals.append(1.0)
    for e, (a, b) in enumerate(edges.tolist()):
        st = {}

        def add(d, s):
            for k, w in d.items():
                st[k] = st.get(k, 0.0) + s * w

        if (a, b) not in opp or (b, a) not in opp:  # boundary edge
            if (a, b) not in opp:
                a, b = b, a  # orient along the boundary: (a, b) is a boundary half-edge
            add({a: 9.0 / 16.0, b: 9.0 / 16.0}, 1.0)
            add({a: 2.0, b: -1.0} if a in corners else {bprev[a]: 1.0}, -1.0 / 16.0)
            add({b: 2.0, a: -1.0} if b in corners else {bnext[b]: 1.0}, -1.0 / 16.0)
        else:
            ka, kb = len(links[a]), len(links[b])
            ia = not is_boundary[a] and ka != 6
            ib = not is_boundary[b] and kb != 6
            use = []
            if ia or ib:
                use = [x for x, f in ((a, ia), (b, ib)) if f]
            elif is_boundary[a] != is_boundary[b]:
                use = [b if is_boundary[a] else a]
            if use:
                for x in use:
                    y = b if x == a else a
                    r = ring(x, y)
                    s = _butterfly_irregular_weights(len(r))
                    add({x: 0.75}, 1.0 / len(use))
                    add({r[j]: s[j] for j in range(len(r))}, 1.0 / len(use))
            else:
                c, d = opp[(a, b)], opp[(b, a)]
                add({a: 0.5, b: 0.5, c: 0.125, d: 0.125}, 1.0)
                add(wing(b, c, a), -1.0 / 16.0)
                add(wing(c, a, b), -1.0 / 16.0)
                add(wing(a, d, b), -1.0 / 16.0)
                add(wing(d, b, a), -1.0 / 16.0)
        for k in sorted(st):
            if st[k] != 0.0:
                rows.append(n_vertices + e), cols.append(k), vals.append(st[k])
    P = sp.csr_matrix((vals, (rows, cols)), shape=(n_vertices + len(edges), n_vertices))
    m = np.array([[n_vertices + edge_id[(min(x, y), max(x, y))] for x, y in ((a, b), (b, c), (c, a))]
                  for a, b, c in faces.tolist()], dtype=np.int64).reshape(-1, 3)
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    mab, mbc, mca = m[:, 0], m[:, 1], m[:, 2]
    new_faces = np.stack([np.stack([a, mab, mca], 1), np.stack([mab, b, mbc], 1),
                          np.stack([mca, mbc, c], 1), np.stack([mab, mbc, mca], 1)], 1).reshape(-1, 3)
    return P, new_faces, edges


def subdivide_t1(n_vertices, faces, rounds, corners=()):
    """Apply `rounds` butterfly rounds. Returns (S csr (N1, n_vertices), t1_faces,
    edge_maps: list per round of dict (min,max) -> new vertex index)."""
    S = sp.identity(n_vertices, format="csr", dtype=np.float64)
    n, f = n_vertices, faces
    edge_maps = []
    for _ in range(rounds):
        P, f, edges = subdivide_butterfly(n, f, set(corners))
        edge_maps.append({(int(x), int(y)): n + i for i, (x, y) in enumerate(edges.tolist())})
        S = (P @ S).tocsr()
        n = P.shape[0]
    S.sort_indices()
    S.eliminate_zeros()
    return S, f, edge_maps


def subdivided_path(path, edge_maps):
    """Refine a vertex path of the 468-level mesh into the T1 vertex path along its edges."""
    cur = list(path)
    for em in edge_maps:
        out = [cur[0]]
        for x, y in zip(cur[:-1], cur[1:]):
            out += [em[(min(x, y), max(x, y))], y]
        cur = out
    return np.asarray(cur, dtype=np.int64)


# --------------------------------------------------------------------------------------
# step 3: conformal flattening


def lscm_parametrization(vertices, faces, pins, pin_positions):
    """Least-squares conformal map of a disk-like mesh to the plane.

    Minimises sum_T A_T |grad v - R90 grad u|^2 (discrete Cauchy-Riemann residual) with
    the vertices `pins` fixed at `pin_positions` (2 pins). Returns (N,2); orientation is
    preserved (a CCW-from-outside triangle maps to a CCW 2-D triangle)."""
    p = vertices[faces]
    e1 = p[:, 1] - p[:, 0]
    l1 = np.linalg.norm(e1, axis=1)
    ex = e1 / l1[:, None]
    nrm = np.cross(e1, p[:, 2] - p[:, 0])
    area2 = np.linalg.norm(nrm, axis=1)
    ey = np.cross(nrm / area2[:, None], ex)
    q = np.zeros((len(faces), 3, 2))
    q[:, 1, 0] = l1
    q[:, 2, 0] = np.einsum("ij,ij->i", p[:, 2] - p[:, 0], ex)
    q[:, 2, 1] = np.einsum("ij,ij->i", p[:, 2] - p[:, 0], ey)
    # grad phi_j = R90 (q_{j+2} - q_{j+1}) / (2A), R90 (x, y) = (-y, x)
    rows, cols, vals = [], [], []
    n = len(vertices)
    F = len(faces)
    sq = np.sqrt(area2 / 2.0)
    for j in range(3):
        d = q[:, (j + 2) % 3] - q[:, (j + 1) % 3]
        gx, gy = -d[:, 1] / area2, d[:, 0] / area2
        # residual r = grad v - R90 grad u ; R90 grad u = (-gy_u, gx_u)
        # x-row: gx*v_j + gy*u_j ; y-row: gy*v_j - gx*u_j
        idx = faces[:, j]
        rows += [np.arange(F), np.arange(F), F + np.arange(F), F + np.arange(F)]
        cols += [n + idx, idx, n + idx, idx]
        vals += [sq * gx, sq * gy, sq * gy, -sq * gx]
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(2 * F, 2 * n))
    pins = np.asarray(pins)
    fixed_idx = np.concatenate([pins, n + pins])
    fixed_val = np.concatenate([pin_positions[:, 0], pin_positions[:, 1]])
    free = np.setdiff1d(np.arange(2 * n), fixed_idx)
    Af, Ap = A[:, free], A[:, fixed_idx]
    rhs = -(Ap @ fixed_val)
    x = spsolve((Af.T @ Af).tocsc(), Af.T @ rhs)
    sol = np.zeros(2 * n)
    sol[free] = x
    sol[fixed_idx] = fixed_val
    return np.stack([sol[:n], sol[n:]], axis=1)


def untangle_parametrization(param, faces, max_iterations=200):
    """Remove flipped triangles of a planar map by local uniform-Laplacian smoothing.

    While some triangle has signed area <= 0, every non-boundary vertex of a flipped
    triangle and its one-ring is moved to the mean of its neighbours (Jacobi step).
    LSCM flips a few tiny triangles in the fan of the mouth-corner cusps; this keeps the
    map injective there at the price of local (sub-millimetre) non-conformality.
    Returns (param (N,2), iterations used); raises if flips remain."""
    param = param.copy()
    off, nbr = one_ring_csr(len(param), faces)
    bnd = np.zeros(len(param), dtype=bool)
    for l in boundary_loops(faces):
        bnd[l] = True
    for it in range(max_iterations):
        bad = signed_areas_2d(param, faces) <= 0
        if not bad.any():
            return param, it
        vs = np.unique(faces[bad])
        ring = np.unique(np.concatenate([vs] + [nbr[off[v]:off[v + 1]] for v in vs.tolist()]))
        ring = ring[~bnd[ring]]
        mean = np.array([param[nbr[off[v]:off[v + 1]]].mean(axis=0) for v in ring.tolist()])
        param[ring] = mean
    raise GeometryError("PARAM_FLIPPED", "could not untangle the conformal map")


class TriangleLocator:
    """Locates 2-D points in a planar triangulation (no flipped triangles).

    locate(points) -> (tri (M,) int64, bary (M,3)); tri = -1 where the point is outside
    (every candidate has a barycentric < -tol)."""

    def __init__(self, points2d, faces, k=8):
        self.p, self.f = points2d, faces
        self.tree = cKDTree(points2d[faces].mean(axis=1))
        self.k = min(k, len(faces))
        a = points2d[faces]
        self.T = np.stack([a[:, 1] - a[:, 0], a[:, 2] - a[:, 0]], axis=2)  # (F,2,2) columns
        self.Tinv = np.linalg.inv(self.T)
        self.o = a[:, 0]

    def bary(self, tri, q):
        """Barycentrics of points q (...,2) in triangles tri (...)."""
        lam = np.einsum("...ij,...j->...i", self.Tinv[tri], q - self.o[tri])
        return np.concatenate([1.0 - lam.sum(-1, keepdims=True), lam], axis=-1)

    def locate(self, q, tol=1e-9):
        """Candidates: the k nearest triangle centroids, then 8k for the misses; a point
        found in none of them is reported outside (tri = -1)."""
        tri = np.full(len(q), -1, dtype=np.int64)
        bb = np.zeros((len(q), 3))
        todo = np.arange(len(q))
        for k in (self.k, min(8 * self.k, len(self.f))):
            if len(todo) == 0:
                break
            _, cand = self.tree.query(q[todo], k=k)
            cand = cand.reshape(len(todo), k)
            b = self.bary(cand, q[todo][:, None, :])
            score = b.min(axis=2)
            best = np.argmax(score, axis=1)  # first maximum: deterministic
            ar = np.arange(len(todo))
            ok = score[ar, best] >= -tol
            tri[todo[ok]] = cand[ar, best][ok]
            bb[todo[ok]] = b[ar, best][ok]
            todo = todo[~ok]
        return tri, bb


# --------------------------------------------------------------------------------------
# step 4: uniform remesh T2


def _resample_polyline(points3d, n_seg, closed):
    """Arc-length positions of n_seg (+1 if open) uniform samples on a polyline.

    Returns (segment index (M,), t in [0,1) (M,)) of each sample."""
    pts = np.vstack([points3d, points3d[:1]]) if closed else points3d
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    m = n_seg if closed else n_seg + 1
    s = np.arange(m) * (cum[-1] / n_seg)
    i = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
    t = (s - cum[i]) / seg[i]
    return i, t


def boundary_samples(t1_vertices, t1_faces, loops, corners, h):
    """Sample T1's boundary loops at spacing ~h (3-D arc length).

    Each loop is cut at its `corners` (vertices kept exactly, e.g. mouth corners) and each
    piece resampled uniformly; a loop without corners is resampled from its first vertex.
    Returns (tri (M,), bary (M,3)) of every sample on its T1 triangle, and the ordered
    loops of sample indices (same orientation as the T1 boundary loops)."""
    # boundary half-edge (a, b) -> the triangle containing it and the slot of a and b
    tri_of = {}
    for t, (a, b, c) in enumerate(t1_faces.tolist()):
        tri_of[(a, b)] = (t, 0, 1)
        tri_of[(b, c)] = (t, 1, 2)
        tri_of[(c, a)] = (t, 2, 0)
    tris, barys, sample_loops = [], [], []
    for loop in loops:
        cset = [i for i, v in enumerate(loop.tolist()) if v in corners]
        start = cset[0] if cset else 0
        loop = np.roll(loop, -start)
        cut = [i for i, v in enumerate(loop.tolist()) if v in corners] or [0]
        cut = cut + [len(loop)]
        idx_loop = []
        for c0, c1 in zip(cut[:-1], cut[1:]):
            piece = np.concatenate([loop[c0:c1], loop[c1 % len(loop): c1 % len(loop) + 1]])
            L = np.linalg.norm(np.diff(t1_vertices[piece], axis=0), axis=1).sum()
            nseg = max(1, int(round(L / h)))
            si, st = _resample_polyline(t1_vertices[piece], nseg, closed=False)
            for i, t in zip(si[:-1].tolist(), st[:-1].tolist()):  # last = next piece's first
                a, b = int(piece[i]), int(piece[i + 1])
                tri, sa, sb = tri_of[(a, b)]
                w = np.zeros(3)
                w[sa], w[sb] = 1.0 - t, t
                idx_loop.append(len(tris))
                tris.append(tri)
                barys.append(w)
        sample_loops.append(np.asarray(idx_loop, dtype=np.int64))
    return np.asarray(tris, dtype=np.int64), np.asarray(barys), sample_loops


def poisson_disk_interior(t1_vertices, t1_faces, fixed_points, r, n_candidates, seed):
    """Dart throwing on T1 by 3-D distance: candidates uniform by area (fixed seed), kept in
    candidate order if no kept point (incl. fixed_points) is closer than r.
    Returns (tri (M,), bary (M,3))."""
    rng = np.random.default_rng(seed)
    area = triangle_areas(t1_vertices, t1_faces)
    cdf = np.cumsum(area) / area.sum()
    u = rng.random((n_candidates, 3))
    tri = np.minimum(np.searchsorted(cdf, u[:, 0], side="right"), len(cdf) - 1)
    s = np.sqrt(u[:, 1])
    bary = np.stack([1.0 - s, s * (1.0 - u[:, 2]), s * u[:, 2]], axis=1)
    pos = np.einsum("mk,mkd->md", bary, t1_vertices[t1_faces[tri]])
    kept = []
    kept_pos = fixed_points.copy()
    batch = 4096
    for b0 in range(0, n_candidates, batch):
        q = pos[b0:b0 + batch]
        d, _ = cKDTree(kept_pos).query(q, k=1, distance_upper_bound=r)
        alive = np.where(~(d < r))[0]
        if len(alive) == 0:
            continue
        pairs = cKDTree(q[alive]).query_pairs(r, output_type="ndarray")
        conflicts = [[] for _ in range(len(alive))]
        for i, j in pairs.tolist():  # i < j
            conflicts[j].append(i)
        keep = np.zeros(len(alive), dtype=bool)
        for j in range(len(alive)):
            keep[j] = not any(keep[i] for i in conflicts[j])
        sel = b0 + alive[keep]
        kept.append(sel)
        kept_pos = np.vstack([kept_pos, pos[sel]])
    kept = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
    return tri[kept], bary[kept]


def _delaunay_inside(param_pts, segments, outer_loop, seed_point):
    """Delaunay triangles of param_pts inside the domain bounded by `segments` (M,2)
    (all boundary segments, which must be Delaunay edges): flood fill over Delaunay
    neighbours from the simplex containing seed_point, never crossing a boundary segment.
    This keeps exactly the triangles of T1's footprint (not the mouth hole, not the
    convex-hull pockets outside the face oval). CCW, canonical row order, sorted rows."""
    # guard points outside the outer boundary (each outer sample pushed outward by half
    # its segment length): no sample lies on the convex hull, and no huge near-degenerate
    # circumcircles form along collinear boundary samples (Qhull would triangulate those
    # merged facets arbitrarily)
    nxt = np.roll(outer_loop, -1)
    prv = np.roll(outer_loop, 1)
    t = param_pts[nxt] - param_pts[prv]
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    normal_out = np.stack([t[:, 1], -t[:, 0]], axis=1)  # right of a CCW loop
    seg_len = np.linalg.norm(param_pts[nxt] - param_pts[outer_loop], axis=1)
    guard = param_pts[outer_loop] + 0.5 * seg_len[:, None] * normal_out
    d = Delaunay(np.vstack([param_pts, guard]), qhull_options="Qbb Qc Qz Q12")
    if len(d.coplanar) and d.coplanar[:, 0].min() < len(param_pts):
        raise GeometryError("T2_DELAUNAY", "Qhull dropped a sample point")
    f = d.simplices.astype(np.int64)
    he = set()
    for a, b, c in f.tolist():
        he.update(((a, b), (b, a), (b, c), (c, b), (c, a), (a, c)))
    seg_set = set()
    for a, b in np.asarray(segments).tolist():
        if (a, b) not in he:
            m = 0.5 * (param_pts[a] + param_pts[b])
            r = 0.5 * np.linalg.norm(param_pts[a] - param_pts[b])
            inn = np.where(np.linalg.norm(param_pts - m, axis=1) < r)[0].tolist()
            raise GeometryError("T2_BOUNDARY", f"boundary segment ({a}, {b}) is not a Delaunay edge"
                                f" (points in its diametral circle: {inn})")
        seg_set.add((min(a, b), max(a, b)))
    start = int(d.find_simplex(np.asarray(seed_point, dtype=np.float64)[None])[0])
    inside = np.zeros(len(f), dtype=bool)
    inside[start] = True
    stack = [start]
    while stack:
        t = stack.pop()
        for k in range(3):
            u = int(d.neighbors[t, k])
            if u < 0 or inside[u]:
                continue
            a, b = f[t, (k + 1) % 3], f[t, (k + 2) % 3]  # edge opposite vertex k
            if (min(a, b), max(a, b)) in seg_set:
                continue
            inside[u] = True
            stack.append(u)
    f = f[inside]
    if f.max() >= len(param_pts):
        raise GeometryError("T2_BOUNDARY", "flood fill leaked out of the boundary")
    neg = signed_areas_2d(param_pts, f) < 0
    f[neg] = f[neg][:, [0, 2, 1]]
    r = np.argmin(f, axis=1)
    f = np.stack([f[np.arange(len(f)), (r + k) % 3] for k in range(3)], axis=1)
    return f[np.lexsort((f[:, 2], f[:, 1], f[:, 0]))]


def remesh_uniform(t1_vertices, t1_faces, t1_param, mouth_corners, seed_point, target_vertices, seed, iterations):
    """Uniform remesh T2 of the T1 surface (Sec. 9.2: T1 -> T2 with a linear map L).

    Target edge length h from the hexagonal-lattice density 2/(sqrt(3) h^2) = N/A (mm).
    t1_param (N1,2): injective planar map of T1; seed_point (2,): a point inside T1 in that
    plane (flood-fill start). T2 vertices 0..n_boundary-1 are the boundary samples.
    Returns dict(faces (F2,3) CCW, L_index (N2,3), L_weight (N2,3), n_boundary, h, param)."""
    area = triangle_areas(t1_vertices, t1_faces).sum()
    h = np.sqrt(2.0 * area / (np.sqrt(3.0) * target_vertices))
    loops = boundary_loops(t1_faces)
    btri, bbary, sample_loops = boundary_samples(t1_vertices, t1_faces, loops, set(mouth_corners), h)
    bpos = np.einsum("mk,mkd->md", bbary, t1_vertices[t1_faces[btri]])
    # r = R_OVER_H h: dart throwing with 10x candidates gives ~0.6/r^2 points per area
    # (measured), the hexagonal lattice of edge h has 1.155/h^2.
    itri, ibary = poisson_disk_interior(t1_vertices, t1_faces, bpos, R_OVER_H * h, 10 * target_vertices, seed)
    tri = np.concatenate([btri, itri])
    bary = np.concatenate([bbary, ibary])
    nb = len(btri)
    locator = TriangleLocator(t1_param, t1_faces)
    # per-T1-triangle Jacobian d(3-D)/d(param) (3x2) and its pseudo-inverse (2x3)
    P3 = t1_vertices[t1_faces]
    J = np.stack([P3[:, 1] - P3[:, 0], P3[:, 2] - P3[:, 0]], axis=2) @ locator.Tinv
    Jp = np.linalg.pinv(J)
    param = np.einsum("mk,mkd->md", bary, t1_param[t1_faces[tri]])
    # Gabriel clearance: no interior point inside the diametral circle (x GABRIEL_MARGIN)
    # of a boundary segment, so every boundary segment is an edge of the Delaunay
    # triangulation (boundary conformity without a constrained Delaunay).
    seg = np.concatenate([np.stack([l, np.roll(l, -1)], axis=1) for l in sample_loops])
    seg_mid = 0.5 * (param[seg[:, 0]] + param[seg[:, 1]])
    seg_half = 0.5 * np.linalg.norm(param[seg[:, 0]] - param[seg[:, 1]], axis=1)
    seg_tree = cKDTree(seg_mid)

    def clear(q):
        d, k = seg_tree.query(q, k=8)
        return np.all(d >= GABRIEL_MARGIN * seg_half[k], axis=1)

    keep = np.ones(len(param), dtype=bool)
    keep[nb:] = clear(param[nb:])
    tri, bary, param = tri[keep], bary[keep], param[keep]
    for _ in range(iterations):
        faces = _delaunay_inside(param, seg, sample_loops[0], seed_point)
        pos = np.einsum("mk,mkd->md", bary, t1_vertices[t1_faces[tri]])
        off, nbr = one_ring_csr(len(param), faces)
        cnt = np.diff(off)
        mean_nb = np.add.reduceat(pos[nbr], off[:-1], axis=0) / np.maximum(cnt, 1)[:, None]
        delta3 = 0.5 * (mean_nb - pos)
        new_param = param + np.einsum("mij,mj->mi", Jp[tri], delta3)
        new_param[:nb] = param[:nb]
        ntri, nbary = locator.locate(new_param)
        move = (ntri >= 0) & (cnt > 0) & clear(new_param)
        move[:nb] = False
        param[move], tri[move], bary[move] = new_param[move], ntri[move], nbary[move]
    faces = _delaunay_inside(param, seg, sample_loops[0], seed_point)
    # exact barycentrics for the final positions: clip tiny negatives, renormalise
    bary = np.clip(bary, 0.0, None)
    bary /= bary.sum(axis=1, keepdims=True)
    return {"faces": faces, "L_index": t1_faces[tri], "L_weight": bary, "n_boundary": nb, "h": h,
            "param": param}


# --------------------------------------------------------------------------------------
# step 5: landmarks and regions


def mirror_map(vertices, tol=1e-3):
    """Index of each vertex's mirror image (x -> -x); raises if the mesh is not symmetric."""
    m = vertices * np.array([-1.0, 1.0, 1.0])
    d, j = cKDTree(vertices).query(m)
    if d.max() > tol:
        raise GeometryError("NOT_SYMMETRIC", f"mirror distance {d.max():.3g} mm")
    return j.astype(np.int64)


def _snap_along(chain, vertices, fractions):
    """Vertices of an ordered chain nearest (in 3-D arc length) to the given arc-length
    fractions; ties resolved to the earlier vertex."""
    seg = np.linalg.norm(np.diff(vertices[chain], axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)]) / seg.sum()
    return [int(chain[np.argmin(np.abs(cum - f))]) for f in fractions]


def _chain_between(loop, a, b):
    """Sub-path of a closed loop from a to b, both directions: returns the two paths."""
    loop = loop.tolist()
    i, j = loop.index(a), loop.index(b)
    fw = (loop[i:] + loop[:i])[: (j - i) % len(loop) + 1]
    bw = (loop[j:] + loop[:j])[: (i - j) % len(loop) + 1][::-1]
    return np.asarray(fw), np.asarray(bw)


def eye_lids(regions, name, outer, inner, vertices):
    """(upper, lower) lid chains of FACEMESH_*_EYE, each ordered outer -> inner corner."""
    loop = ordered_loops_from_edges(regions[name]["edges"])[0]
    p1, p2 = _chain_between(loop, outer, inner)
    return (p1, p2) if vertices[p1[1:-1], 1].mean() > vertices[p2[1:-1], 1].mean() else (p2, p1)


def nose_reference_fit(vertices, nasion, subnasale):
    """Least-squares smooth mid-face reference surface z_ref(x, y) (mm) fitted to the 468
    vertices around (not on) the nose: polynomial basis 1, y, y^2, y^3, x^2, x^2 y, x^4 on
    |x| < 45, y in [y_sub - 14, y_nasion + 12], excluding the box |x| < 24,
    y in [y_sub - 5, y_nasion + 3]. Returns a callable (M,3) -> (M,) protrusion z - z_ref."""
    x, y, z = vertices.T
    ys, yn = vertices[subnasale, 1], vertices[nasion, 1]
    box = (np.abs(x) < 24) & (y > ys - 5) & (y < yn + 3)
    fit = (~box) & (np.abs(x) < 45) & (y > ys - 14) & (y < yn + 12)

    def basis(p):
        x, y = p[:, 0], p[:, 1]
        return np.stack([np.ones_like(x), y, y ** 2, y ** 3, x ** 2, x ** 2 * y, x ** 4], 1)

    coef, *_ = np.linalg.lstsq(basis(vertices[fit]), z[fit], rcond=None)
    return lambda p: p[:, 2] - basis(p) @ coef


def midline_landmarks(vertices, regions):
    """Midline anatomical points from the geometry: pronasale (max z on the midline),
    labrale superius (top of the outer upper lip on the midline), subnasale (midline point
    between them deepest below their chord), nasion level = mean height of the 4 eye corners."""
    mid = np.where(np.abs(vertices[:, 0]) < 1e-6)[0]
    mid = mid[np.argsort(-vertices[mid, 1], kind="stable")]  # top -> bottom
    prn = int(mid[np.argmax(vertices[mid, 2])])
    lips = regions["FACEMESH_LIPS"]["vertices"]
    lm = lips[np.abs(vertices[lips, 0]) < 1e-6]
    ls = int(lm[np.argmax(vertices[lm, 1])])
    between = mid[(vertices[mid, 1] < vertices[prn, 1]) & (vertices[mid, 1] > vertices[ls, 1])]
    a, b = vertices[prn, 1:], vertices[ls, 1:]
    d = (b - a) / np.linalg.norm(b - a)
    n = np.array([d[1], -d[0]])  # (y, z) normal of the chord
    n = n if n[1] < 0 else -n  # pointing into the face (-z)
    sn = int(between[np.argmax((vertices[between, 1:] - a) @ n)])
    return {"midline": mid, "pronasale": prn, "labrale_superius": ls, "subnasale": sn}


def ibug68_indices(vertices, uv, regions, protrusion):
    """The 68 iBUG (Multi-PIE) points as MediaPipe vertex indices (all < 468), iBUG order.

    Fixed anchors (measured, see recipes): eye corners 33/133/362/263, lip corners 61/291,
    inner-lip corners 78/308. Everything else is derived:
      0-16  jaw: FACEMESH_FACE_OVAL from the subject's-right vertex level with the outer eye
            corner, through the chin, to its mirror; 17 points at equal 3-D arc length,
            snapped to oval vertices.
      17-26 brows: upper chain of FACEMESH_*_EYEBROW (outer->inner for the right brow,
            inner->outer for the left).
      27-30 nose bridge: midline vertices nearest to 4 equally spaced heights from the eye
            corner level to the pronasale (30 = max-z midline vertex).
      31-35 nose base: 33 = subnasale; 31/35 = the most lateral vertices that protrude
            > 1 mm over the mid-face reference surface (nose_reference_fit; `protrusion`
            (468,)) within 7 mm above the subnasale (outer lower nostril corners);
            32/34 = the lowest such vertex within 1/4 of that half-width of the x midpoint.
      36-47 eyes: corners + lid chains of FACEMESH_*_EYE at 1/3, 2/3 arc length.
      48-59 outer lips, 60-67 inner lips: FACEMESH_LIPS chains, 1/3-2/3 arc length
            (outer upper: 1/2 between corner and the Cupid's-bow peak — the highest vertex
            of the chain on that side — and the peak itself).
    The result is checked against mirror symmetry by the caller/tests."""
    v = vertices
    mirror = mirror_map(v)
    R_OUT, R_IN, L_IN, L_OUT = 33, 133, 362, 263
    M_R, M_L, I_R, I_L = 61, 291, 78, 308
    out = [None] * 68
    # jaw
    oval = ordered_loops_from_edges(regions["FACEMESH_FACE_OVAL"]["edges"])[0]
    eye_y = v[R_OUT, 1]
    right = oval[v[oval, 0] < 0]
    start = int(right[np.argmin(np.abs(v[right, 1] - eye_y))])
    end = int(mirror[start])
    chin = int(oval[np.argmin(v[oval, 1])])
    p1, p2 = _chain_between(oval, start, end)
    jaw = p1 if chin in p1.tolist() else p2
    out[0:17] = _snap_along(jaw, v, np.linspace(0.0, 1.0, 17))
    # brows
    for name, sl, inner_first in (("FACEMESH_RIGHT_EYEBROW", slice(17, 22), False),
                                  ("FACEMESH_LEFT_EYEBROW", slice(22, 27), True)):
        chains = ordered_chains_from_edges(regions[name]["edges"])
        up = max(chains, key=lambda c: v[c, 1].mean())
        up = up[np.argsort(np.abs(v[up, 0]), kind="stable")]  # inner (small |x|) -> outer
        up = up if inner_first else up[::-1]
        out[sl] = [int(i) for i in up]
    # nose bridge
    ml = midline_landmarks(v, regions)
    mid, prn, sn = ml["midline"], ml["pronasale"], ml["subnasale"]
    corner_y = v[[R_OUT, R_IN, L_IN, L_OUT], 1].mean()
    upper_mid = mid[(v[mid, 1] >= v[prn, 1]) & (v[mid, 1] <= corner_y + 15)]
    for k, yy in enumerate(np.linspace(corner_y, v[prn, 1], 4)):
        out[27 + k] = int(upper_mid[np.argmin(np.abs(v[upper_mid, 1] - yy))])
    out[30] = prn
    # nose base
    base = np.where((protrusion > 1.0) & (v[:, 1] <= v[sn, 1] + 7) & (v[:, 1] >= v[sn, 1])
                    & (v[:, 0] < 0))[0]
    ala = int(base[np.argmin(v[base, 0])])
    xm = 0.5 * v[ala, 0]
    near = base[np.abs(v[base, 0] - xm) < 0.25 * abs(v[ala, 0])]
    mid_r = int(near[np.argmin(v[near, 1])])
    out[31:36] = [ala, mid_r, sn, int(mirror[mid_r]), int(mirror[ala])]
    # eyes
    up, lo = eye_lids(regions, "FACEMESH_RIGHT_EYE", R_OUT, R_IN, v)
    u1, u2 = _snap_along(up, v, [1 / 3, 2 / 3])
    l1, l2 = _snap_along(lo, v, [1 / 3, 2 / 3])
    out[36:42] = [R_OUT, u1, u2, R_IN, l2, l1]
    up, lo = eye_lids(regions, "FACEMESH_LEFT_EYE", L_OUT, L_IN, v)
    u1, u2 = _snap_along(up, v, [1 / 3, 2 / 3])  # from outer
    l1, l2 = _snap_along(lo, v, [1 / 3, 2 / 3])
    out[42:48] = [L_IN, u2, u1, L_OUT, l1, l2]
    # lips
    outer, inner = lip_rings(regions, uv)
    ou, ol = _chain_between(outer, M_R, M_L)
    if v[ou[1:-1], 1].mean() < v[ol[1:-1], 1].mean():
        ou, ol = ol, ou
    iu, il = _chain_between(inner, I_R, I_L)
    if v[iu[1:-1], 1].mean() < v[il[1:-1], 1].mean():
        iu, il = il, iu
    ls = ml["labrale_superius"]
    half = ou[: ou.tolist().index(ls) + 1]  # right corner -> midline
    peak = int(half[1:-1][np.argmax(v[half[1:-1], 1])])
    mid_r_lip = _snap_along(half[: half.tolist().index(peak) + 1], v, [0.5])[0]
    out[48:55] = [M_R, mid_r_lip, peak, ls, int(mirror[peak]), int(mirror[mid_r_lip]), M_L]
    lo_mid = int(ol[np.argmin(np.abs(v[ol, 0]))])
    # lower outer lip: 55, 56 on the left half (from the left corner), 57 midline, 58, 59 right
    half_lo = ol[: ol.tolist().index(lo_mid) + 1]  # right corner -> midline
    r1, r2 = _snap_along(half_lo, v, [1 / 3, 2 / 3])
    out[55:60] = [int(mirror[r1]), int(mirror[r2]), lo_mid, r2, r1]
    # inner lips: 60 right corner, 61-63 upper (right -> left), 64 left corner, 65-67 lower
    up_mid = int(iu[np.argmin(np.abs(v[iu, 0]))])
    lo_mid_i = int(il[np.argmin(np.abs(v[il, 0]))])
    hu = iu[: iu.tolist().index(up_mid) + 1]
    hl = il[: il.tolist().index(lo_mid_i) + 1]
    u = _snap_along(hu, v, [0.5])[0]
    w = _snap_along(hl, v, [0.5])[0]
    out[60:68] = [I_R, u, up_mid, int(mirror[u]), I_L, int(mirror[w]), lo_mid_i, w]
    return np.asarray(out, dtype=np.int64)


IBUG_MIRROR = np.array(list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30]
                       + [35, 34, 33, 32, 31] + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]
                       + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65],
                       dtype=np.int64)
"""iBUG index of each point's mirror partner (x -> -x)."""


def nasion_index(vertices, midline, pronasale, eye_corner_y):
    """Nasion: deepest (min z) midline vertex between the eye-corner level and 25 mm above."""
    c = midline[(vertices[midline, 1] >= eye_corner_y) & (vertices[midline, 1] <= eye_corner_y + 25)]
    return int(c[np.argmin(vertices[c, 2])])


def nose_region(t1_vertices, t1_adjacency, canon_vertices, landmarks):
    """Nose = connected component (containing the pronasale) of the T1 vertices that
    protrude more than NOSE_PROTRUSION_MM over the smooth mid-face reference surface
    (nose_reference_fit) within the height band [subnasale - 1 mm, nasion]. (K,) sorted."""
    prot = nose_reference_fit(canon_vertices, landmarks["nasion"], landmarks["subnasale"])(t1_vertices)
    y = t1_vertices[:, 1]
    cand = (prot > NOSE_PROTRUSION_MM) & (y >= canon_vertices[landmarks["subnasale"], 1] - 1.0) \
        & (y <= canon_vertices[landmarks["nasion"], 1])
    off, nbr = t1_adjacency
    seen = np.zeros(len(t1_vertices), dtype=bool)
    stack = [landmarks["pronasale"]]
    seen[stack[0]] = True
    while stack:
        v = stack.pop()
        for w in nbr[off[v]:off[v + 1]].tolist():
            if cand[w] and not seen[w]:
                seen[w] = True
                stack.append(w)
    return np.where(seen)[0].astype(np.int64)


def contour_region(t1_param, loop_t1):
    """T1 vertices inside or on a closed T1 contour (ordered loop of T1 indices), tested in
    the conformal plane (T1 has no flipped triangles there). (K,) sorted."""
    inside = points_in_polygon(t1_param, t1_param[loop_t1])
    inside[loop_t1] = True
    return np.where(inside)[0].astype(np.int64)


def t1_regions(canon, regions, t1_vertices, t1_param, t1_faces, t1_adjacency, edge_maps, landmarks):
    """Named T1 vertex sets. Filled areas (sorted ascending): lips (between and on the
    outer and inner lip contours), left_eye/right_eye (eye contour and the closed eye
    surface inside it), left_brow/right_brow (between the upper and lower brow chains),
    nose (geometric, see nose_region), face_oval (everything inside the oval = all of T1).
    Contours (ordered loops, T1 subdivision vertices on the contour edges included):
    lips_outer_contour, mouth_hole_boundary (= T1 boundary loop of the mouth hole, same
    order as the boundary half-edges), face_oval_contour; lips_inner = the mouth-hole
    boundary vertices sorted ascending."""
    def loop_t1(loop):
        return subdivided_path(np.append(loop, loop[0]), edge_maps)[:-1]

    out = {}
    outer, inner = lip_rings(regions, canon["uv"])
    outer_t1 = loop_t1(outer)
    hole = [l for l in boundary_loops(t1_faces) if set(inner.tolist()) <= set(l.tolist())]
    if len(hole) != 1:
        raise GeometryError("MOUTH_HOLE", "mouth-hole boundary loop not found in T1")
    out["lips"] = np.union1d(contour_region(t1_param, outer_t1), hole[0])
    out["lips_inner"] = np.sort(hole[0])
    out["mouth_hole_boundary"] = hole[0]
    out["lips_outer_contour"] = outer_t1
    for side in ("left", "right"):
        eye = ordered_loops_from_edges(regions[f"FACEMESH_{side.upper()}_EYE"]["edges"])[0]
        out[f"{side}_eye"] = contour_region(t1_param, loop_t1(eye))
        chains = ordered_chains_from_edges(regions[f"FACEMESH_{side.upper()}_EYEBROW"]["edges"])
        v = canon["vertices"]
        up, lo = sorted(chains, key=lambda c: -v[c, 1].mean())
        up = up[np.argsort(-np.abs(v[up, 0]), kind="stable")]  # outer -> inner
        lo = lo[np.argsort(np.abs(v[lo, 0]), kind="stable")]  # inner -> outer
        poly = np.concatenate([subdivided_path(up, edge_maps), subdivided_path(lo, edge_maps)])
        out[f"{side}_brow"] = contour_region(t1_param, poly)
    out["nose"] = nose_region(t1_vertices, t1_adjacency, canon["vertices"], landmarks)
    oval_loop = [l for l in boundary_loops(t1_faces) if 10 in l.tolist()][0]
    out["face_oval_contour"] = oval_loop
    out["face_oval"] = contour_region(t1_param, oval_loop)
    return out


# --------------------------------------------------------------------------------------
# the bundle


def build_geometry(canon, regions):
    """Geometry of the face-model bundle (see module doc). Returns a dict with
    t1_vertices (N1,3) mm, S csr (N1,468), t1_faces (F1,3), t1_uv (N1,2), t2_faces (F2,3),
    t2_uv (N2,2), L_index (N2,3), L_weight (N2,3), ibug68 (68,), front_face (K,), regions,
    t1_adjacency, t2_adjacency (offsets, neighbors), stats, removed_mouth_triangles (k,3)."""
    V0 = np.asarray(canon["vertices"], dtype=np.float64)
    F0 = np.asarray(canon["faces"], dtype=np.int64)
    uv0 = np.asarray(canon["uv"], dtype=np.float64)
    n0 = len(V0)
    check_oriented_manifold(F0, n0)
    _, inner = lip_rings(regions, uv0)
    F0m, removed = remove_mouth_triangles(F0, inner, uv0)
    S, t1_faces, edge_maps = subdivide_t1(n0, F0m, T1_SUBDIVISION_ROUNDS, MOUTH_CORNERS)
    t1_vertices = S @ V0
    t1_uv = S @ uv0
    check_oriented_manifold(t1_faces, len(t1_vertices))
    t1_adj = one_ring_csr(len(t1_vertices), t1_faces)

    fill = mouth_fill_faces(t1_faces, MOUTH_CORNERS)
    t1_param = lscm_parametrization(t1_vertices, np.vstack([t1_faces, fill]), np.array([33, 263]),
                                    V0[[33, 263], :2])
    lscm_flips = int(np.sum(signed_areas_2d(t1_param, np.vstack([t1_faces, fill])) <= 0))
    t1_param, untangle_iterations = untangle_parametrization(t1_param, np.vstack([t1_faces, fill]))
    flips = int(np.sum(signed_areas_2d(t1_param, np.vstack([t1_faces, fill])) <= 0))
    if flips:
        raise GeometryError("PARAM_FLIPPED", f"{flips} T1 triangles flipped in the conformal plane")

    r = remesh_uniform(t1_vertices, t1_faces, t1_param, MOUTH_CORNERS, t1_param[4], T2_TARGET_VERTICES, T2_SEED,
                       T2_RELAX_ITERATIONS)
    t2_faces, L_index, L_weight = r["faces"], r["L_index"], r["L_weight"]
    t2_vertices = np.einsum("mk,mkd->md", L_weight, t1_vertices[L_index])
    t2_uv = np.einsum("mk,mkd->md", L_weight, t1_uv[L_index])
    check_oriented_manifold(t2_faces, len(t2_vertices))
    t2_adj = one_ring_csr(len(t2_vertices), t2_faces)

    mid = midline_landmarks(V0, regions)
    corner_y = V0[[33, 133, 362, 263], 1].mean()
    landmarks = dict(mid, nasion=nasion_index(V0, mid["midline"], mid["pronasale"], corner_y))
    regs = t1_regions(canon, regions, t1_vertices, t1_param, t1_faces, t1_adj, edge_maps, landmarks)
    protrusion = nose_reference_fit(V0, landmarks["nasion"], landmarks["subnasale"])(V0)
    ibug = ibug68_indices(V0, uv0, regions, protrusion)
    front = regs["face_oval"].copy()

    ang = triangle_angles_deg(t2_vertices, t2_faces)
    ang1 = triangle_angles_deg(t1_vertices, t1_faces)
    e1 = edge_lengths(t1_vertices, t1_faces)
    e2 = edge_lengths(t2_vertices, t2_faces)
    stats = {
        "N0": n0, "F0": len(F0), "removed_mouth_triangles": len(removed),
        "N1": len(t1_vertices), "F1": len(t1_faces), "N2": len(t2_vertices), "F2": len(t2_faces),
        "S_nnz": int(S.nnz), "S_max_row_nnz": int(np.diff(S.indptr).max()),
        "S_min_weight": float(S.data.min()),
        "T1_min_angle_deg": float(ang1.min()), "T1_p1_angle_deg": float(np.percentile(ang1.min(1), 1)),
        "T2_min_angle_deg": float(ang.min()), "T2_p1_angle_deg": float(np.percentile(ang.min(1), 1)),
        "T2_max_angle_deg": float(ang.max()),
        "T1_mean_edge_mm": float(e1.mean()), "T1_edge_cv": float(e1.std() / e1.mean()),
        "T2_mean_edge_mm": float(e2.mean()), "T2_edge_cv": float(e2.std() / e2.mean()),
        "T2_target_edge_mm": float(r["h"]),
        "T1_area_mm2": float(triangle_areas(t1_vertices, t1_faces).sum()),
        "T2_area_mm2": float(triangle_areas(t2_vertices, t2_faces).sum()),
        "T1_boundary_loops": len(boundary_loops(t1_faces)),
        "T2_boundary_loops": len(boundary_loops(t2_faces)),
        "front_face_vertices": len(front),
        "T1_uv_flipped_triangles": int(np.sum(signed_areas_2d(t1_uv * [1.0, -1.0], t1_faces) <= 0)),
        "T2_uv_flipped_triangles": int(np.sum(signed_areas_2d(t2_uv * [1.0, -1.0], t2_faces) <= 0)),
        "lscm_flipped_triangles_before_untangle": lscm_flips, "untangle_iterations": untangle_iterations,
    }
    return {
        "t1_vertices": t1_vertices, "S": S, "t1_faces": t1_faces, "t1_uv": t1_uv,
        "t2_faces": t2_faces, "t2_uv": t2_uv, "L_index": L_index.astype(np.int64), "L_weight": L_weight,
        "ibug68": ibug, "front_face": front, "regions": regs,
        "t1_adjacency": t1_adj, "t2_adjacency": t2_adj, "stats": stats,
        "removed_mouth_triangles": F0[removed],
    }


def t2_vertices_of(geom):
    """T2 positions (N2,3) = L applied to T1 positions."""
    return np.einsum("mk,mkd->md", geom["L_weight"], geom["t1_vertices"][geom["L_index"]])


if __name__ == "__main__":
    import time
    t0 = time.time()
    mp_dir = sys.argv[1] if len(sys.argv) > 1 else "build/mediapipe"
    g = build_geometry(mp_assets.load_canonical(mp_dir), mp_assets.load_regions(mp_dir))
    for k, v in g["stats"].items():
        print(f"{k}: {v}")
    print("ibug68:", g["ibug68"].tolist())
    print("removed:", g["removed_mouth_triangles"].tolist())
    print({k: len(v) for k, v in g["regions"].items()})
    print(f"time {time.time() - t0:.1f} s")
