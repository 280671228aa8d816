"""Hidden Chow-Liu tree (HCLT) probabilistic circuits: structure, level-by-level evaluation, EM,
marginals, and conditional pmfs for entropy coding three ways.

Liu, Mandt, Van den Broeck, "Lossless Compression with Probabilistic Circuits", ICLR 2022,
arXiv:2111.11632v2. HCLT construction: Sec. 5 / App. (pairwise mutual information, maximum spanning
tree, one M-state latent Z_v per tree node, categorical leaves p(X_v | Z_v)); the coding scheme is
Alg. 1 / Thm. 1 (marginals p(x_<i, X_i = k) with cached node values, O(log D |p|) on a balanced
vtree). Semantics checked against the authors' Julia code (Tractables/PressedJuice.jl,
ProbabilisticCircuits.jl); none of it is copied.

The HCLT joint is  p(x) = sum_z p(z_r) prod_{v != r} T_v[z_pa(v), z_v] prod_v L_v[z_v, x_v].
As a circuit: per tree node v, M product units lam_v(z) = L_v[z, x_v] * prod_c msg_c(z) and (for
v != r) M sum units msg_v(z') = sum_z T_v[z', z] lam_v(z) over M inputs; the root sum unit mixes
lam_r with p(z_r). The circuit is smooth and structured-decomposable (its vtree is the rooted tree),
and marginalising X_v sets L_v[., x_v] to 1. Evaluation is level by level: all nodes of one height
form one batched log-space matmul (kernels/logmatmul.py), not one op per node.

Every function below is pure: structure is a static `Tree` of numpy arrays, parameters a pytree of
log-probabilities `{"log_prior": (M,), "log_trans": (D, M, M), "log_leaf": (D, M, K)}` with each
last axis normalised (log_trans[root] is unused but kept normalised).

Conditional pmfs p(x_i | x_<i) in a coding order, three ways that agree to float rounding:
  naive     re-evaluate the whole circuit per variable with evidence x_<i and X_i = k for all k:
            D tree nodes per variable.
  cached    the paper's Alg. 1: keep every node's value; setting X_i only changes the nodes whose
            scope contains X_i, i.e. the path from leaf i to the root: depth(i) + 1 nodes per
            variable (log2 D on a balanced vtree; the learned tree's height otherwise).
  outside   (ours) code in DFS pre-order of the tree and carry top-down "outside" messages:
            p(x_<i, z_i) needs only the parent's outside message, the parent's leaf and the upward
            messages of the siblings already completed. Every node's upward message is computed
            once, when its subtree is complete, so the work is 2 tree nodes per variable,
            independent of D (an HMM forward filter generalised to trees).
"""

from __future__ import annotations

import dataclasses
import functools
from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse.csgraph

from kernels.logmatmul import logmatmul

# ----------------------------------------------------------------------------------------------
# Structure


@dataclasses.dataclass(frozen=True, eq=False)
class Tree:
    """A rooted spanning tree over D variables, with every index array the algorithms need."""

    parent: np.ndarray  # (D,) int, root's parent = D (a dummy slot)
    root: int
    children: np.ndarray  # (D + 1, C) int, padded with D
    depth: np.ndarray  # (D,) int, root = 0
    preorder: np.ndarray  # (D,) DFS pre-order (children in index order)
    levels: tuple  # node arrays by height (leaves first, root last)
    paths: np.ndarray  # (D, H + 2) node, parent, ..., root, padded with D
    close_nodes: np.ndarray  # (D,) nodes in the order their subtrees complete in pre-order
    close_ptr: (
        np.ndarray
    )  # (D + 1,) closes due before coding preorder[t]: close_ptr[t]:close_ptr[t+1]

    @property
    def n_vars(self) -> int:
        return int(self.parent.shape[0])

    @property
    def height(self) -> int:
        return int(self.depth.max())


def tree_from_parents(parent: np.ndarray) -> Tree:
    """Builds a Tree from a parent array (root marked by -1 or D)."""
    parent = np.asarray(parent, dtype=np.int64).copy()
    D = parent.shape[0]
    roots = np.flatnonzero((parent < 0) | (parent == D))
    if roots.size != 1:
        raise ValueError(f"a tree needs exactly one root, got {roots.size}")
    root = int(roots[0])
    parent[root] = D
    kids: list[list[int]] = [[] for _ in range(D + 1)]
    for v in range(D):
        if v != root:
            kids[parent[v]].append(v)
    C = max(1, max(len(k) for k in kids[:D]))
    children = np.full((D + 1, C), D, dtype=np.int64)
    for v in range(D):
        children[v, : len(kids[v])] = kids[v]
    # pre-order DFS, depth, and the closes between consecutive pre-order nodes
    order, depth = [], np.zeros(D, np.int64)
    stack = [root]
    while stack:
        v = stack.pop()
        order.append(v)
        for c in reversed(kids[v]):
            depth[c] = depth[v] + 1
            stack.append(c)
    if len(order) != D:
        raise ValueError("parent array is not a tree (cycle or disconnected node)")
    preorder = np.asarray(order)
    close_nodes, close_ptr = [], [0]
    for t in range(D):
        if t > 0:
            a, p = preorder[t - 1], parent[preorder[t]]
            while a != p:
                close_nodes.append(a)
                a = parent[a]
        close_ptr.append(len(close_nodes))
    # the remaining closes (after the last variable) are never needed for coding
    close_nodes = np.asarray(close_nodes + [D] * (D - len(close_nodes)), dtype=np.int64)[:D]
    height = np.zeros(D, np.int64)
    for v in preorder[::-1]:
        if v != root:
            height[parent[v]] = max(height[parent[v]], height[v] + 1)
    levels = tuple(np.flatnonzero(height == h) for h in range(height.max() + 1))
    H = int(depth.max())
    paths = np.full((D, H + 2), D, dtype=np.int64)  # >= one trailing D ends every walk
    for v in range(D):
        a, j = v, 0
        while a != D:
            paths[v, j] = a
            a, j = parent[a], j + 1
    return Tree(
        parent=parent,
        root=root,
        children=children,
        depth=depth,
        preorder=preorder,
        levels=levels,
        paths=paths,
        close_nodes=close_nodes,
        close_ptr=np.asarray(close_ptr, dtype=np.int64),
    )


def mutual_information(x: np.ndarray, n_values: int, pseudocount: float = 0.01) -> np.ndarray:
    """Pairwise empirical mutual information (nats) of integer data x: (N, D) in [0, n_values).

    Pair counts come from one (D K) x (D K) Gram matrix of one-hot codes, in float32 on the
    default backend (exact for N < 2^24).
    """
    x = np.asarray(x)
    N, D = x.shape
    K = n_values
    onehot = jax.nn.one_hot(jnp.asarray(x), K, dtype=jnp.float32).reshape(N, D * K)
    counts = np.asarray(onehot.T @ onehot).reshape(D, K, D, K)  # float32, exact below 2^24
    Z = N + pseudocount * K * K
    # smoothed joint; its row sums are the smoothed marginals, so MI = H_i + H_j - H_ij
    marg = (np.einsum("iaia->ia", counts).astype(np.float64) + pseudocount * K) / Z
    h = -(marg * np.log(marg)).sum(1)
    joint = (counts + np.float32(pseudocount)) / np.float32(Z)
    h_joint = -(joint * np.log(joint)).sum((1, 3), dtype=np.float64)
    mi = h[:, None] + h[None, :] - h_joint
    np.fill_diagonal(mi, 0.0)
    return mi


def chow_liu_tree(mi: np.ndarray) -> Tree:
    """Maximum spanning tree of the MI graph, rooted at its centre (minimum height)."""
    D = mi.shape[0]
    if D == 1:
        return tree_from_parents(np.array([-1]))
    w = mi.max() - mi + 1.0  # all positive: complete graph; min spanning tree of w = max of mi
    np.fill_diagonal(w, 0.0)
    mst = scipy.sparse.csgraph.minimum_spanning_tree(w)
    adj = (mst + mst.T).tolil()
    nbrs = [list(r) for r in adj.rows]

    def bfs(s):
        par, dist = np.full(D, -1), np.full(D, -1)
        dist[s] = 0
        q = deque([s])
        while q:
            u = q.popleft()
            for v in nbrs[u]:
                if dist[v] < 0:
                    dist[v], par[v] = dist[u] + 1, u
                    q.append(v)
        return par, dist

    _, d0 = bfs(0)
    a = int(np.argmax(d0))
    par_a, da = bfs(a)
    b = int(np.argmax(da))
    path = [b]
    while path[-1] != a:
        path.append(int(par_a[path[-1]]))
    centre = path[len(path) // 2]
    parent, _ = bfs(centre)
    return tree_from_parents(parent)


def balanced_tree(height: int, width: int) -> Tree:
    """A binary heap over the pixels in Z (Morton) order: depth floor(log2 D), spatially local.

    The balanced-vtree case of the paper's Thm. 1, used to measure the log D scaling."""
    rows, cols = np.divmod(np.arange(height * width), width)

    def interleave(r, c):
        code = np.zeros_like(r)
        for b in range(16):
            code |= ((r >> b) & 1) << (2 * b + 1) | ((c >> b) & 1) << (2 * b)
        return code

    perm = np.argsort(interleave(rows, cols), kind="stable")  # heap slot -> pixel
    parent = np.full(height * width, -1)
    for j in range(1, perm.size):
        parent[perm[j]] = perm[(j - 1) // 2]
    return tree_from_parents(parent)


# ----------------------------------------------------------------------------------------------
# Parameters


def init_params(key, n_vars: int, n_latent: int, n_values: int, concentration: float = 1.0):
    """Random normalised log-parameters (Dirichlet draws; every entry > 0)."""
    k1, k2, k3 = jax.random.split(key, 3)

    def dirichlet(k, shape):
        g = jax.random.gamma(k, concentration, shape) + 1e-3
        return jnp.log(g / g.sum(-1, keepdims=True))

    return {
        "log_prior": dirichlet(k1, (n_latent,)),
        "log_trans": dirichlet(k2, (n_vars, n_latent, n_latent)),
        "log_leaf": dirichlet(k3, (n_vars, n_latent, n_values)),
    }


def n_units(tree: Tree, n_latent: int, n_values: int) -> dict:
    """Sizes of the compiled circuit: input, product and sum units, and edges (|p|)."""
    D, M = tree.n_vars, n_latent
    return {
        "input_units": D * M,
        "product_units": D * M,
        "sum_units": (D - 1) * M + 1,
        "edges": (D - 1) * M * M + M + D * M * 2,
        "parameters": (D - 1) * M * M + M + D * M * n_values,
    }


# ----------------------------------------------------------------------------------------------
# Evaluation


def _sum_layer(lam, log_trans_nodes, implementation=None):
    """msg[n, b, z'] = log sum_z T[n, z', z] exp(lam[n, b, z]): one batched log-space matmul."""
    mm = jax.vmap(lambda a, t: logmatmul(a, t.T, implementation=implementation))
    return mm(lam, log_trans_nodes)


def leaf_values(params, x, mask=None):
    """log L_v[z, x_v] as (B, D, M); marginalised variables (mask False) give 0 = log 1."""
    log_leaf = params["log_leaf"]  # (D, M, K)
    D = log_leaf.shape[0]
    vals = log_leaf.transpose(0, 2, 1)[jnp.arange(D)[None, :], x]  # (B, D, M)
    if mask is not None:
        vals = jnp.where(mask[..., None], vals, 0.0)
    return vals


def upward(params, tree: Tree, leaf, implementation=None):
    """Level-by-level circuit evaluation from leaf values (B, D, M).

    Returns (lam (B, D, M), msg (B, D + 1, M), log p (B,)); msg[:, D] is the zero dummy slot.
    Internally node-major (D, B, M), so each level's gather and update touch contiguous rows.
    """
    B, D, M = leaf.shape
    leaf_n = leaf.transpose(1, 0, 2)
    msg = jnp.zeros((D + 1, B, M), leaf.dtype)
    lam = jnp.zeros((D, B, M), leaf.dtype)
    for nodes in tree.levels:
        # int32 indices: numpy int64 ones trip jax's index arithmetic under enable_x64
        nodes = nodes.astype(np.int32)
        kids = tree.children[nodes].astype(np.int32)  # (n, C)
        lam_n = leaf_n[nodes] + msg[kids].sum(axis=1)
        lam = lam.at[nodes].set(lam_n)
        if nodes.size == 1 and int(nodes[0]) == tree.root:
            break
        msg = msg.at[nodes].set(_sum_layer(lam_n, params["log_trans"][nodes], implementation))
    ll = jax.nn.logsumexp(params["log_prior"][None] + lam[tree.root], axis=-1)
    return lam.transpose(1, 0, 2), msg.transpose(1, 0, 2), ll


def log_likelihood(params, tree: Tree, x, mask=None, implementation=None):
    """log p(x) (or the marginal log p(x_mask) when mask is given), shape (B,)."""
    return upward(params, tree, leaf_values(params, x, mask), implementation)[2]


# ----------------------------------------------------------------------------------------------
# EM


def expected_flows_autodiff(params, tree: Tree, x, mask=None):
    """Expected flows = gradient of sum_b log p(x_b) w.r.t. the log-parameters.

    For a PC whose output is multilinear in its normalised parameters, d log p / d log theta is the
    posterior expected count of theta's edge (Peharz et al. 2020; Choi et al. 2021, Eq. for EM).
    The reference for `expected_flows` and ~12x slower than it on the full preset's circuit
    (D = 784, M = 16, B = 1000: 2.17 s against 0.17 s; bench_pc_em measures it). Measured: the
    forward pass takes 0.13 s, the backward 2 s. The cotangent of every level's gather from and
    scatter into the (D + 1, B, M) node arrays is a whole (D + 1, B, M) array: the compiled
    program has 144 scatters, 193 broadcasts and 289 fusions that each write one (ours: 95
    in-place slice updates), O(levels x D x B x M) memory traffic over the 49 levels, and peak
    memory to match (20.7 GB at M = 64).
    """
    return jax.grad(lambda p: log_likelihood(p, tree, x, mask).sum())(params)


@dataclasses.dataclass(frozen=True, eq=False)
class _LevelLayout:
    """Nodes renumbered leaves-first by height, so each level is one contiguous slice."""

    order: np.ndarray  # (D,) level-order slot -> node
    inverse: np.ndarray  # (D,) node -> level-order slot
    bounds: tuple  # ((start, end), ...) per level, leaves first, root last
    kids: tuple  # per level: (n, C_h) children's slots (D = the zero slot), or None
    parents: tuple  # per level: (n,) parent's slot (the root's level: None)


@functools.cache  # Tree hashes by identity (eq=False)
def _level_layout(tree: Tree) -> _LevelLayout:
    D = tree.n_vars
    order = np.concatenate(tree.levels)
    slot = np.full(D + 1, D, dtype=np.int64)
    slot[order] = np.arange(D)
    bounds, kids, parents, s = [], [], [], 0
    for nodes in tree.levels:
        e = s + len(nodes)
        bounds.append((s, e))
        k = slot[tree.children[nodes]]  # (n, C), D where padded
        width = int((k < D).sum(1).max())
        # children sorted first per row, so the first `width` columns hold every real child
        k = np.sort(k, axis=1)[:, :width]
        kids.append(k.astype(np.int32) if width else None)
        par = slot[tree.parent[nodes]]
        parents.append(None if (par == D).all() else par.astype(np.int32))
        s = e
    return _LevelLayout(order, slot[:D], tuple(bounds), tuple(kids), tuple(parents))


# log_trans is clamped at this floor before exponentiating (float32: exp(-70) = 4e-31). Every row
# of T_v holds an entry >= 1/M, so a clamped entry moves any sum it enters by < 1e-30 relative,
# far below float32's 6e-8; in exchange every linear-space quantity below stays finite: s_v >= T_v
# [z', argmax lam_v] >= e^-70, the parent ratios u = post / s <= e^70, and a batch's pair-flow sum
# <= B e^70 (finite for any B < 1e8).
LOG_TRANS_FLOOR = -70.0
SUM_LAYER_MULSUM_MAX_M = 16


def _sum_layer_linear(a, t, transpose: bool):
    """(n, B, M) x (n, M, M) -> (n, B, M): sum_z a[z] t[z', z] (transpose) or sum_z' a[z'] t[z', z].

    For M <= SUM_LAYER_MULSUM_MAX_M a broadcast multiply-sum that XLA:CPU fuses with its operands
    (16 ms against the batched dot's 29 ms for the whole full-preset circuit at M = 16, B = 1000);
    above, a batched dot (the multiply-sum's (n, B, M, M) product is no longer fused away)."""
    if a.shape[-1] <= SUM_LAYER_MULSUM_MAX_M:
        if transpose:
            return (a[:, :, None, :] * t[:, None]).sum(-1)
        return (a[..., :, None] * t[:, None]).sum(-2)
    return jnp.einsum("nbz,nyz->nby" if transpose else "nby,nyz->nbz", a, t)


def expected_flows(params, tree: Tree, x, mask=None):
    """Expected flows (posterior expected edge counts, summed over the batch) by an explicit
    inside-outside pass: the same numbers as `expected_flows_autodiff` (the gradient of sum_b
    log p(x_b) w.r.t. the log-parameters) computed in a layout that makes them cheap, and in
    float32 more accurately (bench_pc_em and tests/models/test_pc.py compare both with float64).

    Layout: nodes renumbered by height so each level is one contiguous slice of node-major
    (D, B, M) arrays; every level writes its slice in place, reads its children's messages (and,
    going down, its parents' posteriors) by a small gather. No array is differentiated, so
    nothing the size of the whole circuit is touched per level (autodiff's backward pass of the
    level-by-level `upward` zero-fills and scatters whole (D + 1, B, M) arrays at every level).

    Inside (leaves to root), log-space sums of children, linear-space sum layers, normalised per
    node so no value grows with the subtree (log p(x_subtree) reaches -3000 nats here, where
    float32's ulp is 2.4e-4):
        raw_v = leaf_v + sum_c log s_c,   mx_v = max_z raw_v,   E_v = exp(raw_v - mx_v) (max 1),
        s_v(z') = sum_z T_v[z', z] E_v(z)          (T_v = exp(log_trans_v), clamped, see above)
        log p(x) = sum_v mx_v + log sum_z prior(z) E_r(z)   (not computed: unneeded)
    Outside (root to leaves), in posteriors P_v(z) = p(z_v = z | x), with no exp or log at all:
        P_r = prior E_r / sum(prior E_r)
        u_v(z') = P_pa(v)(z') / s_v(z'),   P_v(z) = E_v(z) sum_z' u_v(z') T_v[z', z]
        flow T_v[z', z] = T_v[z', z] sum_b u_v(b, z') E_v(b, z)
        flow L_v[z, k] = sum_b P_v(b, z) [x_v^b = k] (unmasked pixels only),  flow prior = sum_b P_r
    These are the derivatives of the inside pass (d log s_v(z') / d log E_v(z) = T_v[z', z] E_v(z)
    / s_v(z')). One exp and one log per (node, example, state), against ~6 for autodiff through
    `kernels.logmatmul`; the pass is memory-bound (16 multiply-adds per value read), so the 16 x 16
    sum layers are broadcast multiply-sums that XLA fuses with the exp / log around them.
    The arithmetic differs from autodiff's, so the two agree to float32 rounding, not bit for bit.
    """
    lay = _level_layout(tree)
    D = tree.n_vars
    leaf = leaf_values(params, x, mask)  # (B, D, M)
    B, _, M = leaf.shape
    dt = leaf.dtype
    leaf_s = leaf[:, lay.order].transpose(1, 0, 2)  # (D, B, M) in level order
    t_s = jnp.exp(jnp.maximum(params["log_trans"][lay.order], LOG_TRANS_FLOOR))  # (D, M, M)

    # (log p(x) would be sum_v mx_v + log z below; the flows do not need it)
    log_s = jnp.zeros((D + 1, B, M), dt)  # log s_v per slot; slot D: the zero message
    es, ss = [], []
    for h, (lo, hi) in enumerate(lay.bounds):
        raw = leaf_s[lo:hi]
        if lay.kids[h] is not None:
            raw = raw + log_s[lay.kids[h]].sum(axis=1)
        mx = raw.max(axis=-1, keepdims=True)
        mx = jnp.where(jnp.isfinite(mx), mx, 0.0)
        e = jnp.exp(raw - mx)
        es.append(e)
        if lay.parents[h] is not None:  # below the root: s_v(z') = sum_z T[z', z] E(z)
            s_h = _sum_layer_linear(e, t_s[lo:hi], transpose=True)
            ss.append(s_h)
            log_s = log_s.at[lo:hi].set(jnp.log(s_h))
    # (B, M): the root's level is the root alone
    top = jnp.exp(params["log_prior"])[None] * es[-1][0]
    p_root = top / top.sum(-1, keepdims=True)

    post = jnp.zeros((D, B, M), dt).at[D - 1].set(p_root)
    flow_t = [jnp.zeros((1, M, M), dt)]  # the root's (unused) transition
    for h in range(len(lay.bounds) - 2, -1, -1):
        lo, hi = lay.bounds[h]
        u = post[lay.parents[h]] / ss[h]  # (n, B, M) over the parent's state z'
        t = t_s[lo:hi]
        post = post.at[lo:hi].set(es[h] * _sum_layer_linear(u, t, transpose=False))
        flow_t.append(t * jnp.einsum("nbz,nby->nzy", u, es[h]))
    flow_t = jnp.concatenate(flow_t[::-1], axis=0)  # level order
    if mask is not None:
        post = post * mask.T[lay.order][..., None].astype(dt)
    K = params["log_leaf"].shape[-1]
    slots = jnp.broadcast_to(jnp.arange(D)[:, None], (D, B))
    flow_leaf = jnp.zeros((D, K, M), dt).at[slots, x.T[lay.order]].add(post)
    return {
        "log_prior": p_root.sum(0),
        "log_trans": flow_t[lay.inverse],
        "log_leaf": flow_leaf[lay.inverse].transpose(0, 2, 1),
    }


def em_update(flows, pseudocount: float):
    """Normalised M-step with a pseudocount spread evenly over each distribution's outcomes."""

    def norm(f):
        n = f.shape[-1]
        num = f + pseudocount / n
        return jnp.log(num) - jnp.log(num.sum(-1, keepdims=True))

    return jax.tree_util.tree_map(norm, flows)


def mix(params, target, step: float):
    """Mini-batch EM: theta <- (1 - step) theta + step theta_em, in probability space."""
    # step = 1 gives log1p(-1) = -inf and logaddexp(-inf, b) = b exactly: plain EM.
    return jax.tree_util.tree_map(
        lambda a, b: jnp.logaddexp(jnp.log1p(-step) + a, jnp.log(step) + b), params, target
    )


# ----------------------------------------------------------------------------------------------
# Conditional pmfs for coding. Each scheme is a pair (pmf step, commit) over a state; encoder and
# decoder call the same jitted functions so their pmfs are bit-identical.


def _log_normalise(lp):
    return lp - jax.nn.logsumexp(lp, axis=-1, keepdims=True)


# -- naive


def naive_logpmf(params, tree: Tree, x, known, i):
    """log p(X_i = k | x_known) for all k by full re-evaluation (B, K); known: (B, D) bool."""
    K = params["log_leaf"].shape[-1]
    B, D = x.shape
    leaf = leaf_values(params, x, known)  # (B, D, M)
    leafK = jnp.broadcast_to(leaf[:, None], (B, K) + leaf.shape[1:])
    leafK = leafK.at[:, :, i].set(params["log_leaf"][i].T[None])  # X_i = k
    ll = upward(params, tree, leafK.reshape(B * K, D, -1))[2].reshape(B, K)
    return _log_normalise(ll)


# -- cached (the paper's Alg. 1): values of every node, path updates


def cached_init(params, tree: Tree, batch: int):
    D, M = params["log_leaf"].shape[:2]
    leaf = jnp.zeros((batch, D, M), params["log_leaf"].dtype)
    lam, msg, _ = upward(params, tree, leaf)
    return {
        "leaf": jnp.concatenate([leaf, jnp.zeros((batch, 1, M), leaf.dtype)], 1),
        "lam": lam,
        "msg": msg,
    }


def _path_walk(params, tree: Tree, leaf_i, msg, leafv, i, write=None):
    """Propagate new leaf values of node i (Kb, M) up its path; returns root lam (Kb, M).

    With write=(lam, msg) (Kb == 1) it also stores the new node values along the path.
    """
    paths = jnp.asarray(tree.paths)
    children = jnp.asarray(tree.children)
    log_trans = params["log_trans"]
    D = tree.n_vars
    kids = children[i]
    lam0 = leaf_i + msg[kids].sum(0)[None]

    def cond(c):
        return paths[i, c[0] + 1] != D

    def body(c):
        j, lamK, st = c
        v, p = paths[i, j], paths[i, j + 1]
        msgK = logmatmul(lamK, log_trans[v].T)  # (Kb, M)
        pk = children[p]
        others = jnp.where((pk == v)[:, None], 0.0, msg[pk]).sum(0)
        lam_p = leafv[p][None] + others[None] + msgK
        if st is not None:
            lam_s, msg_s = st
            st = (lam_s.at[p].set(lam_p[0]), msg_s.at[v].set(msgK[0]))
        return j + 1, lam_p, st

    st0 = None if write is None else (write[0].at[i].set(lam0[0]), write[1])
    _, lam_root, st = jax.lax.while_loop(cond, body, (0, lam0, st0))
    return lam_root, st


def cached_logpmf(params, tree: Tree, state, i):
    """(B, K) log p(X_i = k | evidence in state); walks depth(i) + 1 nodes."""

    def one(msg, leafv):
        lam_root, _ = _path_walk(params, tree, params["log_leaf"][i].T, msg, leafv, i)
        return _log_normalise(jax.nn.logsumexp(params["log_prior"][None] + lam_root, axis=-1))

    return jax.vmap(one)(state["msg"], state["leaf"])


def cached_commit(params, tree: Tree, state, i, xi):
    """Sets X_i = xi (B,) and updates the node values along i's path."""

    def one(lam, msg, leafv, k):
        li = params["log_leaf"][i][:, k]
        _, (lam, msg) = _path_walk(params, tree, li[None], msg, leafv, i, write=(lam, msg))
        return lam, msg, leafv.at[i].set(li)

    lam, msg, leaf = jax.vmap(one)(state["lam"], state["msg"], state["leaf"], xi)
    return {"leaf": leaf, "lam": lam, "msg": msg}


# -- outside messages in DFS pre-order (ours)


def outside_init(params, tree: Tree, batch: int):
    D, M = params["log_leaf"].shape[:2]
    z = jnp.zeros((batch, D + 1, M), params["log_leaf"].dtype)
    return {"leaf": z, "msg": z, "out": z[:, :D]}


def outside_logpmf(params, tree: Tree, state, t):
    """(B, K) log p(X_i = k | x_<i) for i = preorder[t]; state must hold preorder[:t]."""
    children = jnp.asarray(tree.children)
    close_nodes, close_ptr = jnp.asarray(tree.close_nodes), jnp.asarray(tree.close_ptr)
    parent, preorder = jnp.asarray(tree.parent), jnp.asarray(tree.preorder)
    log_trans = params["log_trans"]
    D = tree.n_vars
    i = preorder[t]

    def one(leafv, msg, out):
        def close(c, msg):  # subtree of v is complete: compute its upward message once
            v = close_nodes[c]
            lam_v = leafv[v] + msg[children[v]].sum(0)
            return msg.at[v].set(logmatmul(lam_v[None], log_trans[v].T)[0])

        msg = jax.lax.fori_loop(close_ptr[t], close_ptr[t + 1], close, msg)
        p = parent[i]
        a = out[jnp.minimum(p, D - 1)] + leafv[p] + msg[children[p]].sum(0)
        out_i = jnp.where(p == D, params["log_prior"], logmatmul(a[None], log_trans[i])[0])
        lp = logmatmul(out_i[None], params["log_leaf"][i])[0]
        return _log_normalise(lp), msg, out.at[i].set(out_i)

    lp, msg, out = jax.vmap(one)(state["leaf"], state["msg"], state["out"])
    return lp, {"leaf": state["leaf"], "msg": msg, "out": out}


def outside_commit(params, tree: Tree, state, t, xi):
    i = jnp.asarray(tree.preorder)[t]
    li = params["log_leaf"][i].T[xi]  # (B, M)
    return {**state, "leaf": state["leaf"].at[:, i].set(li)}


# -- work counts (tree nodes whose sum layer is (re)computed), per variable in coding order


def nodes_per_variable(tree: Tree, scheme: str, order: np.ndarray | None = None) -> np.ndarray:
    D = tree.n_vars
    order = tree.preorder if order is None else np.asarray(order)
    if scheme == "naive":
        return np.full(D, D, dtype=np.int64)
    if scheme == "cached":  # the path from i to the root, for the pmf
        return tree.depth[order] + 1
    if scheme == "outside":  # one outside message, plus the closes due at this step
        return 1 + np.diff(tree.close_ptr)
    raise ValueError(f"unknown scheme {scheme!r}")


# ----------------------------------------------------------------------------------------------
# Sampling


def sample(params, tree: Tree, key, n: int):
    """Ancestral samples (n, D): z_root ~ prior, z_v ~ T_v[z_parent], x_v ~ L_v[z_v]."""
    D = tree.n_vars
    kz, kx = jax.random.split(key)
    order = tree.preorder
    z = jnp.zeros((n, D + 1), jnp.int32)
    keys = jax.random.split(kz, D)
    for v in order:  # parents precede children in pre-order
        v = int(v)
        if v == tree.root:
            logits = jnp.broadcast_to(params["log_prior"], (n,) + params["log_prior"].shape)
        else:
            logits = params["log_trans"][v][z[:, tree.parent[v]]]
        z = z.at[:, v].set(jax.random.categorical(keys[v], logits))
    leaf = params["log_leaf"][jnp.arange(D)[None], z[:, :D]]  # (n, D, K)
    return jax.random.categorical(kx, leaf)
