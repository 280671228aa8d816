"""Minimum entropy coupling with bottleneck (MEC-B): the encoder (EBIM), the decoder (MEC), and
their composition. Ebrahimi, Chen, Khisti, "Minimum Entropy Coupling with Bottleneck", NeurIPS 2024,
arXiv:2410.21666. Bits throughout; float64 (call the jnp functions under `jax.enable_x64(True)`).

MEC-B splits   max I(X;Y)  over  p(t|x), q(y|t)  with  H(T) <= R,  Y ~ p_Y   (X -> T -> Y)
into the encoder problem EBIM, max I(X;T) subject to H(T) <= R, and the decoder problem MEC, the
minimum-entropy coupling of p_T and p_Y. A deterministic encoder T = g(X) has I(X;T) = H(T), so
on deterministic maps EBIM is "the partition of X's alphabet whose block masses have the largest
entropy not above R".

Encoder (EBIM)
- `ebim_greedy_loop`: the paper's greedy deterministic solver (Algorithm 1), written as its steps
  read (and as the authors' released `coupling.py` runs it): start from T = X; at each step, if
  merging the two lightest cells brings H(T) <= R, do that and stop; otherwise merge the two
  heaviest cells and repeat. Zero-mass symbols are dropped first, as the authors' code does.
- `ebim_greedy`: the same map, loop-free and vmappable (ours). Sorting p descending, after j
  heavy merges the cells are {p_(1) + ... + p_(j+1), p_(j+2), ..., p_(n)} (the merged cell stays
  the heaviest), so every candidate the loop can visit has a closed-form entropy from one cumsum:
  state j: H_j = -P_j log P_j - sum_{i > j+1} p_(i) log p_(i); the light merge at state j joins
  the two lightest non-zero singletons. The answer is the first candidate, in the loop's order
  (identity, light_0, heavy_0, light_1, heavy_1, ...), with H <= R.
- `uniform_quantisation_labels`: the baseline of the authors' code: m = floor(2^R) cells of
  ceil(n / m) consecutive symbols (H(T) <= log2 m <= R).
- `set_partitions` / `deterministic_optimum`: brute force over every deterministic encoder
  (restricted-growth strings; Bell(n) of them, n <= 10).
- `lattice_encoders`: every stochastic encoder p(t|x) whose rows lie on the simplex lattice of
  step 1/L (the brute-force reference for stochastic EBIM on tiny alphabets), as (H(T), I(X;T));
  `polish_encoder` refines one by a pattern search under the constraint H(T) <= R.
- `move_curves`: the exact curves of the one-symbol moves between deterministic encoders (our
  derivation of the structure the paper's Theorem 3 describes near deterministic maps): from a
  partition g, move mass e of symbol x from its cell a to cell b (an existing cell or a new one).
  Then H(T|X) = p_x h(e / p_x) and I(X;T) = H(T) - p_x h(e / p_x), with H(T) the entropy of the
  moved cell masses; at e = p_x the move ends on another deterministic encoder. Their upper
  envelope over R is the optimum curve if the optimum near deterministic maps has that form.

Decoder (MEC)
- `greedy_coupling`: the max-seeking greedy coupling (Kocaoglu et al. 2017): put min(p_i, q_j)
  of the largest remaining masses on (i, j). Ours runs exactly n + m - 1 steps and zeroes the
  exhausted side exactly, so the marginals are exact to round-off and no residual threshold can
  stop it early or late; vmappable (lax.fori_loop). Within log2(e)/e bits of the optimum
  (Compton et al. 2023).
- `greedy_coupling_sparse`: the same table bit for bit, leaving the loop once one side is
  exactly all zero, because every step after that is a no-op: the step puts min(max p, max q) = 0
  on a cell (x + 0.0 = x) and sets an entry that is already 0 to 0 or subtracts 0. Before that,
  both maxima are > 0, so every step zeroes one more non-zero entry: at most nnz(p) + nnz(q) - 1
  steps do anything (tested against `greedy_coupling`). For marginals with few non-zeros: the
  Markov Coding Game couples the receiver's belief, soon a few cells of 512, ~2.5x faster. On
  dense marginals under vmap it is slower (a while loop with a batched predicate selects its
  whole carry, the (n, m) table included, every step: x2-5, experiments/bench_mec_coupling.py).
- `greedy_coupling_threshold`: the authors' code's form (loop while the residual > 1e-8), to show
  what its threshold leaves in the marginals.
- `exact_mec`: the optimum for tiny alphabets: H is concave, so its minimum over the
  transportation polytope is at a vertex; the vertices are the basic feasible solutions, one per
  spanning tree of the n x m bipartite graph (n + m - 1 cells), enumerated.
- `sla_coupling`: successive linear approximation (the paper's SLA baseline): minimise the
  linearisation of H at the current coupling by a linear program (scipy HiGHS), repeat.

MEC-B: `compose(p_xt, p_ty)` gives p(x, y) = sum_t p(x, t) p(y | t).
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from theory import information as info

MAX_BRUTE_N = 10  # Bell(10) = 115975 partitions; Bell(11) = 678570 (~60 MB of labels)
MAX_VERTEX_CELLS = 16  # exact_mec: C(16, 7) = 11440 supports for 4 x 4


# --- EBIM: the greedy deterministic solver --------------------------------------------------------


def ebim_greedy_loop(p, rate: float) -> np.ndarray:
    """Algorithm 1 step by step (NumPy): cell label per symbol (zero-mass symbols: label 0)."""
    p = info.check_distribution(p)
    rate = info.check_rate(rate)
    support = [i for i in range(p.size) if p[i] > 0]
    cells = [[i] for i in support]

    def masses():
        return np.array([p[c].sum() for c in cells])

    def h(cs):
        return float(info.entropy_np(np.array([p[c].sum() for c in cs])))

    if h(cells) <= rate:
        return _labels_from_cells(cells, p.size)
    while len(cells) > 1:
        m = masses()
        order = np.argsort(m, kind="stable")
        lo = [cells[k] for k in order[2:]] + [cells[order[0]] + cells[order[1]]]
        if h(lo) <= rate:
            return _labels_from_cells(lo, p.size)
        a, b = order[-1], order[-2]
        cells = [cells[k] for k in range(len(cells)) if k not in (a, b)] + [cells[a] + cells[b]]
        if h(cells) <= rate:
            return _labels_from_cells(cells, p.size)
    return _labels_from_cells(cells, p.size)


def _labels_from_cells(cells, n):
    labels = np.zeros(n, np.int64)
    for k, c in enumerate(sorted(cells, key=min)):
        labels[c] = k
    return labels


def ebim_greedy(p, rate):
    """Algorithm 1's answer without a loop (jnp; vmappable over p and rate).

    Returns (H(T) = I(X;T), labels): labels[i] is symbol i's cell, in 0..n-1 (not compacted)."""
    p = jnp.asarray(p)
    n = p.shape[-1]
    order = jnp.argsort(-p, stable=True)
    s = p[order]
    n_eff = jnp.sum(s > 0)
    plogp = info.xlog2x(s)
    cs = jnp.cumsum(s)
    suffix = jnp.sum(plogp) - jnp.cumsum(plogp)  # sum_{i > j} s_i log s_i
    h_state = -info.xlog2x(cs) - suffix  # state j: the top j + 1 merged, the rest singletons
    a, b = n_eff - 2, n_eff - 1  # the two lightest non-zero singletons
    sa, sb = s[jnp.maximum(a, 0)], s[jnp.maximum(b, 0)]
    j = jnp.arange(n - 1)
    light = jnp.where(
        j <= n_eff - 3,
        h_state[j] + info.xlog2x(sa) + info.xlog2x(sb) - info.xlog2x(sa + sb),
        0.0,  # two cells left: the light merge joins everything
    )
    heavy = h_state[1:]
    cand = jnp.concatenate([h_state[:1], jnp.stack([light, heavy], -1).reshape(-1)])
    first = jnp.argmax(cand <= rate)  # H = 0 is always a candidate, so one exists
    hit = cand[first]
    # the candidate's partition, in sorted positions
    jj = jnp.where(first == 0, 0, (first - 1) // 2 + jnp.where((first - 1) % 2 == 1, 1, 0))
    is_light = (first > 0) & ((first - 1) % 2 == 0)
    pos = jnp.arange(n)
    lab = jnp.maximum(pos - jj, 0)
    lab = jnp.where(is_light & (pos == b) & (jj <= n_eff - 3), a - jj, lab)
    lab = jnp.where(is_light & (jj > n_eff - 3), 0, lab)
    lab = jnp.where(pos >= n_eff, 0, lab)
    labels = jnp.zeros(n, lab.dtype).at[order].set(lab)
    return hit, labels


def encoder_from_labels(p, labels):
    """p(x, t) of the deterministic encoder t = labels[x]: (n, n), unused cells all-zero."""
    p = jnp.asarray(p)
    return p[:, None] * jax.nn.one_hot(labels, p.shape[-1], dtype=p.dtype)


# added to R before floor(2^R), so that R = log2 m exactly gives m cells where float rounding of
# 2^R could give m - 1 (both forms below use it)
_RATE_EPS = 1e-12


def uniform_quantisation_labels(n: int, rate):
    """The authors' baseline: m = floor(2^R) cells of ceil(n / m) consecutive symbols (jnp)."""
    m = jnp.floor(jnp.exp2(jnp.asarray(rate, jnp.float64) + _RATE_EPS)).astype(jnp.int32)
    m = jnp.clip(m, 1, n)
    size = (n + m - 1) // m
    return jnp.arange(n) // size


def uniform_accuracy_bound(n: int, rate_bits: float) -> float:
    """Uniform quantisation's ceiling on MAP accuracy when it encodes a receiver's belief (the
    Markov Coding Game): its cells are the same fixed blocks of ceil(n / m) consecutive messages
    at every step (m = floor(2^R), as `uniform_quantisation_labels`), the action depends on M only
    through its block, so the posterior inside a block stays uniform and MAP names one message per
    block: accuracy <= (number of blocks) / n. Host-side (float64) arithmetic."""
    m = max(1, min(n, math.floor(2.0 ** (rate_bits + _RATE_EPS))))
    size = -(-n // m)
    return (-(-n // size)) / n


# --- EBIM: brute force ----------------------------------------------------------------------------


def set_partitions(n: int) -> np.ndarray:
    """Every partition of n symbols as a restricted-growth string: (Bell(n), n) int8 labels."""
    if not 1 <= n <= MAX_BRUTE_N:
        raise ValueError(f"set_partitions: n must be in 1..{MAX_BRUTE_N}, got {n}")
    rows = np.zeros((1, 1), np.int8)
    for _ in range(1, n):
        top = rows.max(1)
        reps = top + 2  # each row extends by 0..max+1
        base = np.repeat(rows, reps, axis=0)
        nxt = np.concatenate([np.arange(r) for r in reps]).astype(np.int8)
        rows = np.concatenate([base, nxt[:, None]], axis=1)
    return rows


def partition_entropies(p, parts: np.ndarray | None = None):
    """H(T) (= I(X;T)) of every deterministic encoder; returns (h, parts)."""
    p = info.check_distribution(p)
    parts = set_partitions(p.size) if parts is None else parts
    mass = np.zeros((parts.shape[0], p.size))
    np.add.at(mass, (np.arange(parts.shape[0])[:, None], parts.astype(np.int64)), p[None, :])
    return info.entropy_np(mass), parts


def deterministic_optimum(p, rate: float):
    """max H(T) <= R over every deterministic encoder: (value, labels)."""
    rate = info.check_rate(rate)
    h, parts = partition_entropies(p)
    h = np.where(h <= rate, h, -np.inf)
    k = int(np.argmax(h))
    return float(h[k]), parts[k].astype(np.int64)


def compositions(total: int, parts: int) -> np.ndarray:
    """All vectors of `parts` non-negative ints summing to `total` (stars and bars)."""
    out = []
    for bars in itertools.combinations(range(total + parts - 1), parts - 1):
        prev, row = -1, []
        for b in bars:
            row.append(b - prev - 1)
            prev = b
        row.append(total + parts - 2 - prev)
        out.append(row)
    return np.array(out, np.int64)


def lattice_encoders(p, k: int, steps: int, chunk: int = 1 << 18):
    """(H(T), I(X;T)) of every encoder whose rows p(.|x) lie on the lattice of step 1/steps over
    k cells. Returns (h_t, i_xt) flat arrays, (C(steps+k-1, k-1))^n points (n <= 3 sensible)."""
    p = info.check_distribution(p)
    rows = compositions(steps, k) / steps  # (c, k)
    hrow = info.entropy_np(rows)  # H(T | X = x) for each row choice
    n, c = p.size, rows.shape[0]
    if c**n > 5e7:
        raise ValueError(f"lattice of {c}^{n} encoders is too large; lower steps or k")
    idx = np.stack(np.unravel_index(np.arange(c**n), (c,) * n), -1)
    h_out, i_out = [], []
    for s in range(0, idx.shape[0], chunk):
        ii = idx[s : s + chunk]
        pt = np.einsum("x,bxk->bk", p, rows[ii])
        ht = info.entropy_np(pt)
        h_out.append(ht)
        i_out.append(ht - hrow[ii] @ p)
    return np.concatenate(h_out), np.concatenate(i_out)


def upper_envelope(h, i, grid):
    """max I over points with H <= r, for each r in grid (-inf where none)."""
    order = np.argsort(h)
    hs, best = h[order], np.maximum.accumulate(i[order])
    k = np.searchsorted(hs, grid, side="right") - 1
    return np.where(k >= 0, best[np.maximum(k, 0)], -np.inf)


def encoder_info(p, w):
    """(H(T), I(X;T)) of the encoder with rows w[x] = p(.|x) (NumPy)."""
    ht = float(info.entropy_np(p @ w))
    return ht, ht - float(p @ info.entropy_np(w))


def polish_encoder(
    p, w0, rate: float, step: float, rounds: int = 80, reach: int = 2, min_step: float = 1e-9
):
    """Pattern search from a feasible encoder w0 (rows p(.|x) over k cells): every combination of
    per-row moves of -reach..reach steps on each row's first k - 1 entries (the last entry takes
    the rest) is evaluated, the best feasible I(X;T) with H(T) <= R kept; the step halves when
    the centre is best. Derivative-free, so the unbounded slope of p log p at the simplex faces
    (where these optima sit) does not stall it as it stalls gradient methods. Returns (I, H, w)."""
    p = np.asarray(p, np.float64)
    n, k = w0.shape
    offs = np.arange(-reach, reach + 1)
    row_moves = np.stack(np.meshgrid(*([offs] * (k - 1)), indexing="ij"), -1).reshape(-1, k - 1)
    combos = np.stack(np.unravel_index(np.arange(row_moves.shape[0] ** n),
                                       (row_moves.shape[0],) * n), -1)  # fmt: skip
    w, (h_best, i_best) = w0.copy(), encoder_info(p, w0)
    if h_best > rate + 1e-12:
        raise ValueError(
            f"polish_encoder: the start is not feasible (H(T) = {h_best} > R = {rate})"
        )
    for _ in range(rounds):
        if step < min_step:
            break
        d = row_moves[combos] * step  # (c, n, k - 1)
        cand = np.empty((combos.shape[0], n, k))
        cand[..., :-1] = w[None, :, :-1] + d
        cand[..., -1] = 1.0 - cand[..., :-1].sum(-1)
        ok = np.all((cand >= 0.0) & (cand <= 1.0), axis=(1, 2))
        cand = np.clip(cand[ok], 0.0, 1.0)
        ht = info.entropy_np(np.einsum("x,cxk->ck", p, cand))
        it = ht - info.entropy_np(cand) @ p
        it = np.where(ht <= rate, it, -np.inf)
        j = int(np.argmax(it))
        if it[j] > i_best + 1e-15:
            w, h_best, i_best = cand[j], float(ht[j]), float(it[j])
        else:
            step /= 2.0
    return i_best, h_best, w


def move_curves(p):
    """Every one-symbol move from every deterministic encoder: a list of dicts
    {start (labels), x, to (a cell, or -1: a new cell)}; see `move_point` for the curve."""
    p = info.check_distribution(p)
    moves = []
    for g in set_partitions(p.size):
        g = g.astype(np.int64)
        k = int(g.max()) + 1
        for x in range(p.size):
            if p[x] == 0:
                continue
            a = int(g[x])
            targets = [b for b in range(k) if b != a]
            if np.sum(g == a) > 1:
                targets.append(-1)  # split x's mass off into a new cell
            moves.extend({"start": g.tolist(), "x": x, "to": b} for b in targets)
    return moves


def move_point(p, move, u):
    """(H(T), I(X;T)) after moving the fraction u (array) of p_x along `move`: exact, NumPy."""
    p = np.asarray(p, np.float64)
    u = np.asarray(u, np.float64)
    g, x, b = np.asarray(move["start"]), move["x"], move["to"]
    k = int(g.max()) + 1
    mass = np.append(np.bincount(g, weights=p, minlength=k), 0.0)
    m = np.broadcast_to(mass, u.shape + mass.shape).copy()
    m[..., g[x]] -= p[x] * u
    m[..., b if b >= 0 else k] += p[x] * u
    ht = info.entropy_np(m)
    return ht, ht - p[x] * info.entropy_np(np.stack([u, 1.0 - u], -1))


def move_encoder(p, move, u, cells: int):
    """The encoder (rows p(.|x) over `cells` cells) at fraction u along `move`."""
    g, x, b = np.asarray(move["start"]), move["x"], move["to"]
    w = np.zeros((g.size, cells))
    w[np.arange(g.size), g] = 1.0
    w[x, g[x]] = 1.0 - u
    w[x, b if b >= 0 else int(g.max()) + 1] += u
    return w


def move_envelope(p, moves, grid, n_u: int = 4001):
    """max I(X;T) over every move's curve with H(T) <= R, for each R in grid, exact to root
    finding: each curve is sampled at n_u fractions (cosine-spaced, dense at both ends), every
    crossing H(T) = R is refined by brentq and evaluated; the best feasible sample covers
    interior maxima (where dI/du = 0, so the sampling error is second order).
    Returns (values, argbest [(move index, u)])."""
    from scipy.optimize import brentq

    u = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n_u))
    best = np.full(len(grid), -np.inf)
    arg = [(-1, 0.0)] * len(grid)
    for mi, mv in enumerate(moves):
        h, i = move_point(p, mv, u)
        for r_idx, r in enumerate(grid):
            feas = h <= r
            if feas.any():
                j = int(np.argmax(np.where(feas, i, -np.inf)))
                if i[j] > best[r_idx]:
                    best[r_idx], arg[r_idx] = float(i[j]), (mi, float(u[j]))
            cross = np.flatnonzero(np.diff(np.sign(h - r)) != 0)
            for c in cross:

                def f(t, mv=mv, r=r):
                    return float(move_point(p, mv, np.array(t))[0]) - r

                if f(u[c]) * f(u[c + 1]) > 0:
                    continue
                t = brentq(f, u[c], u[c + 1], xtol=1e-15)
                ht, it = move_point(p, mv, np.array(t))
                if ht <= r + 1e-13 and it > best[r_idx]:
                    best[r_idx], arg[r_idx] = float(it), (mi, float(t))
    return best, arg


# --- MEC ------------------------------------------------------------------------------------------


def _greedy_step(carry):
    pr, qr, joint = carry
    i, j = jnp.argmax(pr), jnp.argmax(qr)
    v = jnp.minimum(pr[i], qr[j])
    joint = joint.at[i, j].add(v)
    p_done = pr[i] <= qr[j]  # the exhausted side is set to exactly 0
    pr = pr.at[i].set(jnp.where(p_done, 0.0, pr[i] - v))
    qr = qr.at[j].set(jnp.where(p_done, qr[j] - v, 0.0))
    return pr, qr, joint


def greedy_coupling(p, q):
    """Max-seeking greedy coupling, exactly n + m - 1 steps (jnp; vmappable): (n, m) table."""
    p, q = jnp.asarray(p), jnp.asarray(q)
    n, m = p.shape[-1], q.shape[-1]
    init = (p, q, jnp.zeros((n, m), p.dtype))
    _, _, joint = jax.lax.fori_loop(0, n + m - 1, lambda _, c: _greedy_step(c), init)
    return joint


def greedy_coupling_sparse(p, q):
    """`greedy_coupling`'s table bit for bit, leaving the loop once one side is exactly all zero
    (the rest of its n + m - 1 steps are no-ops: module docstring); for sparse marginals."""
    p, q = jnp.asarray(p), jnp.asarray(q)
    n, m = p.shape[-1], q.shape[-1]

    def more(c):
        k, (pr, qr, _) = c
        return (k < n + m - 1) & jnp.any(pr > 0) & jnp.any(qr > 0)

    init = (jnp.asarray(0, jnp.int32), (p, q, jnp.zeros((n, m), p.dtype)))
    _, (_, _, joint) = jax.lax.while_loop(more, lambda c: (c[0] + 1, _greedy_step(c[1])), init)
    return joint


def greedy_coupling_threshold(p, q, threshold: float = 1e-8):
    """The authors' code's loop (NumPy): while the residual of p sums above `threshold`."""
    p, q = np.array(p, np.float64), np.array(q, np.float64)
    joint = np.zeros((p.size, q.size))
    while p.sum() > threshold:
        i, j = int(p.argmax()), int(q.argmax())
        v = min(p[i], q[j])
        p[i] -= v
        q[j] -= v
        joint[i, j] = v
    return joint


def _transport_constraints(p, q):
    """The couplings of p and q as A vec(P) = [p; q] (row sums, then column sums; P row-major)."""
    n, m = p.size, q.size
    a = np.zeros((n + m, n * m))
    for i in range(n):
        a[i, i * m : (i + 1) * m] = 1.0
    for j in range(m):
        a[n + j, j::m] = 1.0
    return a, np.concatenate([p, q])


def exact_mec(p, q):
    """The minimum-entropy coupling by vertex enumeration (n * m <= 16): (H, table)."""
    p, q = info.check_distribution(p, "p"), info.check_distribution(q, "q")
    n, m = p.size, q.size
    if n * m > MAX_VERTEX_CELLS:
        raise ValueError(f"exact_mec enumerates vertices: n * m must be <= {MAX_VERTEX_CELLS}")
    a, rhs = _transport_constraints(p, q)
    best_h, best = np.inf, None
    for support in itertools.combinations(range(n * m), n + m - 1):
        sub = a[:, support]
        x, _, rank, _ = np.linalg.lstsq(sub, rhs, rcond=None)
        if rank < n + m - 1 or np.min(x) < -1e-12 or np.abs(sub @ x - rhs).max() > 1e-10:
            continue
        t = np.zeros(n * m)
        t[list(support)] = np.clip(x, 0.0, None)
        h = float(info.entropy_np(t))
        if h < best_h:
            best_h, best = h, t.reshape(n, m)
    return best_h, best


def sla_coupling(p, q, iters: int = 30, floor: float = 1e-12):
    """Successive linear approximation of min H over couplings: start from the independent
    coupling, minimise <grad H(P_k), P> by a linear program (scipy HiGHS), stop at a fixed point.
    grad H = -log2(P) - log2(e); zero cells get the gradient at `floor` (a large finite cost)."""
    from scipy.optimize import linprog

    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    n, m = p.size, q.size
    a, rhs = _transport_constraints(p, q)
    cur = np.outer(p, q).reshape(-1)
    for _ in range(iters):
        cost = -np.log2(np.maximum(cur, floor))
        res = linprog(cost, A_eq=a[:-1], b_eq=rhs[:-1], bounds=(0, None), method="highs")
        if not res.success:
            break
        nxt = np.clip(res.x, 0.0, None)
        if np.abs(nxt - cur).max() < 1e-12:
            break
        cur = nxt
    return cur.reshape(n, m)


# --- MEC-B ----------------------------------------------------------------------------------------


def compose(p_xt, p_ty):
    """p(x, y) = sum_t p(x, t) p(y | t); cells with p(t) = 0 contribute nothing."""
    pt = p_ty.sum(-1, keepdims=True)
    cond = jnp.where(pt > 0, p_ty / jnp.where(pt > 0, pt, 1.0), 0.0)
    return p_xt @ cond


def mecb(p_x, p_y, rate, encoder: str = "greedy"):
    """One MEC-B solution (jnp; vmappable): EBIM encoder (greedy or uniform quantisation), then
    the greedy coupling of p_T and p_Y. Returns the three tables and their informations."""
    n = p_x.shape[-1]
    if encoder == "greedy":
        _, labels = ebim_greedy(p_x, rate)
    elif encoder == "uniform":
        labels = uniform_quantisation_labels(n, rate)
    else:
        raise ValueError(f"encoder must be 'greedy' or 'uniform', got {encoder!r}")
    p_xt = encoder_from_labels(p_x, labels)
    p_ty = greedy_coupling(p_xt.sum(0), p_y)
    p_xy = compose(p_xt, p_ty)
    return {
        "p_xt": p_xt,
        "p_ty": p_ty,
        "p_xy": p_xy,
        "h_t": info.entropy(p_xt.sum(0)),
        "i_xt": info.mutual_information(p_xt),
        "i_ty": info.mutual_information(p_ty),
        "i_xy": info.mutual_information(p_xy),
        "h_y_given_x": info.conditional_entropy(p_xy),
    }


def binary_entropy(x):
    """h(x) in bits."""
    return float(info.entropy_np(np.array([x, 1.0 - x])))


LOG2E_OVER_E = math.log2(math.e) / math.e  # greedy coupling's additive gap bound (Compton 2023)
