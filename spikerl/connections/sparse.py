"""Sparse connection: only the existing synapses are stored, as (source, target) index pairs and values.

For large, mostly empty weight matrices (e.g. 10k x 10k neurons at 1 % connectivity, 1M synapses instead
of 100M matrix entries). The structure is fixed at construction; plasticity changes only the values of
existing synapses, never creates new ones.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any, Iterator

import torch
from torch import nn

from spikerl.connections.base import Connection, init_weights
from spikerl.neurons.base import as_shape

# Below this fraction of active inputs (on CPU), spikes are propagated as a sparse x sparse product, whose
# cost grows with the number of spikes times their fan-out; above it, as sparse weights x dense spikes.
EVENT_DRIVEN_DENSITY = 0.02


@contextlib.contextmanager
def _quiet_csr() -> Iterator[None]:
    """Silence torch's warning that sparse CSR support is in beta (the ops used here are tested)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor support is in beta.*")
        yield


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A CSR matrix from valid (already checked) parts."""
    return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)


def _row_pointers(rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    """CSR row pointers ``[n_rows + 1]`` of sorted row indices."""
    ptr = torch.zeros(n_rows + 1, dtype=torch.long, device=rows.device)
    ptr[1:] = torch.bincount(rows, minlength=n_rows).cumsum(0)
    return ptr


class Sparse(Connection):
    """Sparse connection: ``I_j = sum_{k: tgt_k = j} values_k * s_{src_k}`` (+ bias).

    Synapse ``k`` connects flat source unit ``indices[0, k]`` to flat target unit ``indices[1, k]`` with
    weight ``values[k]``. ``weight`` is the values vector ``[nnz]``, so learning rules, bounds, masks and
    ``norm`` act on existing synapses only.

    The synapses are stored sorted by (source, target), duplicates are rejected: ``values`` given to the
    constructor are reordered with their indices, and ``conn.indices`` tells the stored order.

    Propagation is event-driven on CPU when spikes are sparse (below :data:`EVENT_DRIVEN_DENSITY` active
    inputs: a sparse spike matrix times the sparse weights, cost ~ spikes x fan-out); otherwise, and on GPU, it
    is the sparse weights times the dense spikes (no host synchronisation).

    Plasticity: ``pair(pre, post)[k] = sum_b pre[b, src_k] * post[b, tgt_k]`` (the dense outer product sampled
    at the existing synapses, computed without forming it). ``norm`` rescales the incoming weights of each
    target unit to sum to ``norm``.

    Args:
        source_shape, target_shape: layer shapes (flattened in row-major order for the indices).
        indices: integer ``[2, nnz]``: row 0 source, row 1 target (flat indices). Use :meth:`from_dense` or
            :meth:`random` to build them.
        values: initial weights ``[nnz]`` in the order of ``indices``; default uniform in ``[wmin, wmax]`` if
            both are finite, else ``U(0, 1) / sqrt(mean fan-in)``, mean fan-in = ``max(1, nnz / n_target)``.
        nnz: instead of ``indices``: an empty structure of ``nnz`` synapses to be filled by
            ``load_state_dict`` (how checkpoints are loaded from :meth:`config`).
        generator: optional ``torch.Generator`` for the default initialisation.
        wmin, wmax, norm, bias: see :class:`~spikerl.connections.base.Connection`.
    """

    def __init__(self, source_shape: int | tuple[int, ...], target_shape: int | tuple[int, ...],
                 indices: torch.Tensor | None = None, values: torch.Tensor | None = None, *,
                 nnz: int | None = None, wmin: float = -math.inf, wmax: float = math.inf,
                 norm: float | None = None, bias: bool = False, generator: torch.Generator | None = None) -> None:
        super().__init__(source_shape, target_shape, wmin=wmin, wmax=wmax, norm=norm, bias=bias)
        self.n_source, self.n_target = math.prod(self.source_shape), math.prod(self.target_shape)
        if (indices is None) == (nnz is None):
            raise ValueError("Sparse: give either indices [2, nnz] or nnz= (to load a checkpoint), not both")
        if indices is None:
            if isinstance(nnz, bool) or not isinstance(nnz, int) or nnz < 0:
                raise ValueError(f"Sparse: nnz must be an int >= 0, got {nnz!r}")
            if values is not None:
                raise ValueError("Sparse: values need indices; with nnz= they come from load_state_dict")
            indices, order = torch.zeros(2, nnz, dtype=torch.long), None
            self._loaded = False
        else:
            indices, order = self._check_indices(indices)
            self._loaded = True
        n = indices.shape[1]
        if values is not None and order is not None:
            values = torch.as_tensor(values)
            if tuple(values.shape) != (n,):
                raise ValueError(f"Sparse: expected values of shape [{n}] (one per synapse), got {list(values.shape)}")
            values = values[order]
        fan_in = max(1, round(n / self.n_target))
        self.values = nn.Parameter(init_weights((n,), values, wmin, wmax, fan_in, generator), requires_grad=False)
        self.register_buffer("indices", indices)
        self._build_structure()
        self.enforce_constraints()

    # --- constructors -------------------------------------------------------------------------------
    @classmethod
    def from_dense(cls, source_shape: int | tuple[int, ...], target_shape: int | tuple[int, ...],
                   w: torch.Tensor, **kwargs: Any) -> "Sparse":
        """The nonzero entries of a dense matrix ``w [n_source, n_target]`` as synapses (same orientation as
        :class:`~spikerl.connections.dense.Dense`). ``kwargs`` as in the constructor."""
        w = torch.as_tensor(w)
        conn_shape = (math.prod(as_shape(source_shape)), math.prod(as_shape(target_shape)))
        if tuple(w.shape) != conn_shape:
            raise ValueError(f"Sparse.from_dense: expected a matrix of shape {list(conn_shape)}, got {list(w.shape)}")
        indices = w.nonzero().T
        return cls(source_shape, target_shape, indices, w[indices[0], indices[1]], **kwargs)

    @classmethod
    def random(cls, source_shape: int | tuple[int, ...], target_shape: int | tuple[int, ...], p: float,
               values: torch.Tensor | None = None, *, self_connections: bool = True,
               generator: torch.Generator | None = None, **kwargs: Any) -> "Sparse":
        """Random connectivity: each (source, target) pair is a synapse independently with probability ``p``.

        Drawn in ``O(nnz)`` time and memory (geometric gaps between successive synapses in row-major order),
        so 10k x 10k at ``p = 0.01`` never builds a 100M-entry matrix. ``self_connections=False`` (source and
        target of the same size, e.g. a recurrent connection) removes the pairs ``i -> i``. The generator
        draws the structure, then the default values. ``kwargs`` as in the constructor.
        """
        if not (isinstance(p, (int, float)) and 0.0 <= p <= 1.0):
            raise ValueError(f"Sparse.random: p must be a probability in [0, 1], got {p!r}")
        n_src, n_tgt = math.prod(as_shape(source_shape)), math.prod(as_shape(target_shape))
        if not self_connections and n_src != n_tgt:
            raise ValueError(f"Sparse.random: self_connections=False needs source and target of the same size, "
                             f"got {n_src} and {n_tgt}")
        flat = _bernoulli_positions(n_src * n_tgt, float(p), generator)
        if not self_connections:
            flat = flat[flat // n_tgt != flat % n_tgt]
        indices = torch.stack([flat // n_tgt, flat % n_tgt])
        return cls(source_shape, target_shape, indices, values, generator=generator, **kwargs)

    # --- structure ----------------------------------------------------------------------------------
    def _check_indices(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Validate ``[2, nnz]`` indices; return them sorted by (source, target) and the sorting order."""
        if not torch.is_tensor(indices):
            indices = torch.as_tensor(indices)
        if indices.dtype.is_floating_point or indices.dtype.is_complex or indices.dtype == torch.bool:
            raise TypeError(f"Sparse: indices must be an integer tensor, got {indices.dtype}")
        if indices.dim() != 2 or indices.shape[0] != 2:
            raise ValueError(f"Sparse: expected indices of shape [2, nnz] (sources, targets), "
                             f"got {list(indices.shape)}")
        indices = indices.to(torch.long)
        for row, n, side in ((0, self.n_source, "source"), (1, self.n_target, "target")):
            bad = (indices[row] < 0) | (indices[row] >= n)
            if bool(bad.any()):
                k = int(bad.nonzero()[0, 0])
                shape = self.source_shape if row == 0 else self.target_shape
                raise ValueError(f"Sparse: {side} index {int(indices[row, k])} of synapse {k} is out of range "
                                 f"[0, {n}) for the {side} shape {shape}")
        key = indices[0] * self.n_target + indices[1]
        order = torch.argsort(key, stable=True)
        key = key[order]
        dup = key[1:] == key[:-1]
        if bool(dup.any()):
            k = int(key[1:][dup][0])
            raise ValueError(f"Sparse: duplicate synapse {k // self.n_target} -> {k % self.n_target}; "
                             f"each (source, target) pair may appear once")
        return indices[:, order].contiguous(), order

    def _build_structure(self) -> None:
        """Derived index buffers: CSR by source (forward layout) and by target (transposed layout)."""
        src, tgt = self.indices
        device = self.indices.device
        self.register_buffer("_src_ptr", _row_pointers(src, self.n_source), persistent=False)
        t_order = torch.argsort(tgt * self.n_source + src)
        self.register_buffer("_t_order", t_order, persistent=False)
        self.register_buffer("_t_ptr", _row_pointers(tgt[t_order], self.n_target).to(device), persistent=False)
        self.register_buffer("_t_src", src[t_order].contiguous(), persistent=False)

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args)
        loaded = state_dict.get(prefix + "indices")
        if loaded is not None and tuple(loaded.shape) == tuple(self.indices.shape):
            checked, _ = self._check_indices(self.indices)
            if not torch.equal(checked, self.indices):
                raise ValueError("Sparse: loaded indices are not sorted by (source, target); they must come from "
                                 "a Sparse connection's state_dict")
            self._build_structure()
            self._loaded = True

    def _check_loaded(self) -> None:
        if not self._loaded:
            raise RuntimeError(f"Sparse built with nnz={self.nnz} has no synapse structure yet: "
                               f"call load_state_dict first")

    @property
    def nnz(self) -> int:
        """Number of synapses."""
        return self.indices.shape[1]

    @property
    def weight(self) -> torch.Tensor:
        return self.values

    def to_dense(self) -> torch.Tensor:
        """The weight matrix ``[n_source, n_target]`` with zeros where there is no synapse."""
        self._check_loaded()
        out = torch.zeros(self.n_source, self.n_target, dtype=self.values.dtype, device=self.values.device)
        out[self.indices[0], self.indices[1]] = self.values.detach()
        return out

    # --- contract -----------------------------------------------------------------------------------
    def propagate(self, spikes: torch.Tensor) -> torch.Tensor:
        self._check_loaded()
        n = spikes.shape[0]
        flat = spikes.reshape(n, self.n_source)
        with _quiet_csr():
            if flat.device.type == "cpu" and flat.numel() > 0 and \
                    int(torch.count_nonzero(flat)) < EVENT_DRIVEN_DENSITY * flat.numel():
                w = _csr(self._src_ptr, self.indices[1], self.values, (self.n_source, self.n_target))
                out = (flat.to_sparse_csr() @ w).to_dense()
            else:
                wt = _csr(self._t_ptr, self._t_src, self.values[self._t_order], (self.n_target, self.n_source))
                out = (wt @ flat.T).T
        return out.reshape(n, *self.target_shape)

    def pair(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        self._check_loaded()
        dtype = self.values.dtype
        a = pre.reshape(pre.shape[0], self.n_source).to(dtype)
        b = post.reshape(post.shape[0], self.n_target).to(dtype)
        if self.nnz == 0:
            return torch.zeros_like(self.values)
        with _quiet_csr():
            pattern = _csr(self._src_ptr, self.indices[1], torch.zeros_like(self.values),
                           (self.n_source, self.n_target))
            return torch.sparse.sampled_addmm(pattern, a.T.contiguous(), b.contiguous(), beta=0.0).values()

    def pair_per_sample(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        self._check_loaded()
        dtype = self.values.dtype
        a = pre.reshape(pre.shape[0], self.n_source).to(dtype)
        b = post.reshape(post.shape[0], self.n_target).to(dtype)
        return a[:, self.indices[0]] * b[:, self.indices[1]]

    def incoming_sums(self) -> torch.Tensor:
        tgt = self.indices[1]
        sums = torch.zeros(self.n_target, dtype=self.values.dtype, device=self.values.device)
        return sums.index_add_(0, tgt, self.values)[tgt]

    def config(self) -> dict[str, Any]:
        return {**super().config(), "nnz": self.nnz}


def _bernoulli_positions(total: int, p: float, generator: torch.Generator | None) -> torch.Tensor:
    """Sorted positions in ``[0, total)``, each included independently with probability ``p``.

    The gaps between successive included positions are i.i.d. geometric(``p``) on {1, 2, ...}.
    """
    if p == 0.0 or total == 0:
        return torch.zeros(0, dtype=torch.long)
    if p == 1.0:
        return torch.arange(total)
    mean = total * p
    chunk = int(mean + 6.0 * math.sqrt(mean) + 16)
    pieces: list[torch.Tensor] = []
    last = torch.tensor(-1, dtype=torch.long)
    while int(last) < total - 1:
        gaps = torch.empty(chunk, dtype=torch.float64).geometric_(p, generator=generator).to(torch.long)
        pos = last + gaps.cumsum(0)
        pieces.append(pos)
        last = pos[-1]
    flat = torch.cat(pieces)
    return flat[flat < total]
