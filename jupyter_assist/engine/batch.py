"""Batched passes: the running requests' decode steps and verify chunks in one forward.

Over 350 lines: the batch tensors' layout (join, leave, grow, pack, mask) and the pass
over them change together; the scheduler's part (who parks, room) is in scheduler.py.

A request's decode loop does not call the model for its next tokens: it *parks* them
(`feed_steps`) and yields. The scheduler then runs one forward over every parked request
(`Batch.run`), a row each, and resumes them with their logits. On a CPU a decode step of
a small model reads all its weights for one token; four rows read them once.

The rows' K/V live in one persistent set of tensors (batch x heads x columns x dim per
layer) with room to grow in both dimensions, so a step writes its new columns in place;
K/V is copied only when a request joins (its `DynamicCache` in) or leaves (back out).
Every pass appends the same number of columns to every row: a row that feeds fewer
tokens (a shorter verify chunk, or none) gets pad columns that its attention mask leaves
out, and rolling back a rejected verify just masks its columns too. Each row has its own
position ids, so a row's logits are what its request computes alone (up to rounding:
fp32 tests compare them). When the columns are mostly holes the tensors are rebuilt
packed.

Memory: every row takes as many columns as the longest (a short row's are pads), and the
tensors keep spare rows and columns to grow into, so what they take is not the sum of the
rows' own K/V. The scheduler gives the batch its `room` (the K/V budget less what the
started requests outside the batch set aside) and the tensors never take more: they grow
with less spare, a request that does not fit is not joined (it decodes on its own cache,
which its reservation covers), and when the rows themselves no longer fit the
lowest-priority ones leave (their K/V intact, back in their caches) until the rest do.

Not transformers' continuous batching (`generation/continuous_batching`): that manager
runs its own generation loop over a paged cache; ours keeps the prefix cache's
`DynamicCache` entries, the verify/rollback of speculative edits and per-request stop
rules, so only the idea (rows join and leave between steps) is shared.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from transformers.cache_utils import Cache, CacheLayerMixin

from .kvcache import cache_len, truncate


def _rank(owner: object) -> tuple[int, int]:
    """A request's place: priority, then arrival (lower first)."""
    return getattr(owner, "priority", 0), getattr(owner, "seq", 0)


class _Cols:
    """What the pass being run writes: columns [t, t + n) of every row."""

    t: int = 0
    n: int = 0


class _BatchLayer(CacheLayerMixin):
    is_compileable = False
    is_sliding = False

    def __init__(self, cols: _Cols) -> None:
        super().__init__()
        self.cols = cols
        self.keys: Any = None
        self.values: Any = None
        self.is_initialized = True  # tensors are set by `Batch`, never lazily

    def lazy_initialization(self, key_states: Any, value_states: Any) -> None:  # pragma: no cover
        raise RuntimeError("batch K/V is allocated by Batch")

    def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        t, n, b = self.cols.t, self.cols.n, key_states.shape[0]
        self.keys[:b, :, t : t + n] = key_states
        self.values[:b, :, t : t + n] = value_states
        return self.keys[:b, :, : t + n], self.values[:b, :, : t + n]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.cols.t + query_length, 0

    def get_seq_length(self) -> int:
        return self.cols.t

    def get_max_length(self) -> int:
        return -1


@dataclass
class Intent:
    """Tokens a request parked for the next batched pass, and what came back."""

    ids: list[int]
    logits: Any = None
    error: BaseException | None = None


class BatchRow:
    """A request's K/V as a `Session`: its `DynamicCache` until its first batched pass,
    then a row of the batch until `leave` copies it back out."""

    def __init__(self, batch: Batch, owner: object, cache: Any, forward: Callable[[list[int], Any], Any]) -> None:
        self.batch, self.owner, self.cache, self._forward = batch, owner, cache, forward
        self.slot: int | None = None  # row index while joined
        self.pos = 0  # positions held while joined (the next token's position id)

    @property
    def joined(self) -> bool:
        return self.slot is not None

    @property
    def length(self) -> int:
        return self.pos if self.joined else cache_len(self.cache)

    def feed(self, ids: list[int]) -> Any:
        """Feed `ids` now, alone (other rows get pad columns): logits for each of them."""
        if self.joined:
            out = self.batch.run({self: ids})
            if self in out:
                return out[self]
        return self._forward(ids, self.cache)  # alone, or out of the batch for want of room

    def truncate(self, n: int) -> None:
        if self.joined:
            self.batch.truncate(self, n)
        else:
            truncate(self.cache, n)

    def leave(self) -> None:
        """Back to the `DynamicCache` (which then holds every position again); idempotent."""
        self.batch.pending.pop(id(self.owner), None)
        if self.joined:
            self.batch.leave(self)


def feed_steps(session: Any, ids: list[int], cancelled: Any) -> Generator[None, None, Any]:
    """Logits for `ids` fed after `session`, with one yield (one scheduler step) around the
    pass. A batch row parks its tokens and yields: the scheduler's batched pass fills them
    in; if none ran (a scheduler without batching), the row feeds them alone. None: the
    request was cancelled while parked (no pass is spent on it). Other sessions (the CUDA
    graphs) feed, then yield, as before."""
    if not isinstance(session, BatchRow):
        out = session.feed(ids)
        yield
        return out
    intent = Intent(ids)
    session.batch.pending[id(session.owner)] = (session, intent)
    try:
        yield
    finally:
        session.batch.pending.pop(id(session.owner), None)
    if intent.error is not None:
        raise intent.error
    if intent.logits is not None:
        return intent.logits
    if cancelled is not None and cancelled.is_set():
        return None
    return session.feed(ids)


class Batch:
    """The rows of every joined request and the pass over them. Worker thread only."""

    def __init__(self, model: Any, pad_id: int = 0, min_cols: int = 256) -> None:
        self.model = model
        self.device = model.device
        self.pad_id = pad_id
        self.min_cols = min_cols
        self.cols = _Cols()
        layers = model.config.get_text_config().num_hidden_layers
        self.layers = [_BatchLayer(self.cols) for _ in range(layers)]
        shared: list[Any] = list(self.layers)
        self.cache = Cache(layers=shared)
        self.rows: list[BatchRow] = []
        self.valid: Any = None  # bool (rows capacity, columns capacity): which columns each row attends
        self.pending: dict[int, tuple[BatchRow, Intent]] = {}  # by id() of the owner (the Request)
        self.passes = 0
        self.rebuilds = 0
        self.evictions = 0  # rows sent back to their own caches for want of room
        self.cell_bytes = 0  # K and V of one position of one row, all layers
        # Set by the scheduler (`bound`): the bytes the tensors may take now, and what it
        # set aside for a request's K/V. Unbounded until then.
        self._room: Callable[[], int] = lambda: 1 << 62
        self._reserve: Callable[[object], int] = lambda owner: 0

    def bound(self, room: Callable[[], int], reserve: Callable[[object], int]) -> None:
        self._room, self._reserve = room, reserve

    # -- for the scheduler ------------------------------------------------------------
    def parked(self, owner: object) -> bool:
        return id(owner) in self.pending

    def run_parked(self, owners: list[object]) -> None:
        """One pass for the parked tokens of `owners`; each one's intent gets its logits
        (or the error, raised in its own request)."""
        todo = dict(self.pending[id(o)] for o in owners if id(o) in self.pending)
        if not todo or (len(todo) == 1 and not self.rows):
            return  # one request and no batch: it feeds its own `DynamicCache`, as alone
        import torch

        try:
            with torch.inference_mode():
                out = self.run({row: intent.ids for row, intent in todo.items()})
        except Exception as e:  # each request reports it (and the engine recovers) in its own step
            for intent in todo.values():
                intent.error = e
            return
        for row, intent in todo.items():  # a row left out (no room) feeds alone after its yield
            intent.logits = out.get(row)

    # -- rows ---------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return len(self.rows)

    def holds(self, owner: object) -> bool:
        return any(r.owner is owner for r in self.rows)

    def allocated_bytes(self) -> int:
        """What the K/V tensors take, spare room and pad columns included."""
        return sum(t.nbytes for layer in self.layers for t in (layer.keys, layer.values) if t is not None)

    def _capacity(self) -> tuple[int, int]:
        k = self.layers[0].keys
        return (0, 0) if k is None else (k.shape[0], k.shape[2])

    def _shape(self, rows: int, cols: int, want_rows: int, want_cols: int, room: int) -> tuple[int, int] | None:
        """The most generous shape within `room` bytes that holds `rows` x `cols`: the
        spare rows and columns wanted, fewer columns, then no spare row; None: none fits."""
        for r in dict.fromkeys((max(want_rows, rows), rows)):
            c = min(max(want_cols, cols), room // max(r * self.cell_bytes, 1))
            if c >= cols:
                return r, c
        return None

    def _lowest(self) -> BatchRow:
        """The row to send back first: the lowest priority, the latest arrival."""
        return max(self.rows, key=lambda r: _rank(r.owner))

    def _evict(self, row: BatchRow) -> None:
        self.evictions += 1
        self.leave(row)

    def shrink(self, room: Callable[[], int], for_owner: object) -> None:
        """Take at most `room()` bytes, for `for_owner`'s request to start: rebuilt without
        spare, then rows that rank below it out, lowest first, until the rest fit (`room`
        is asked again as each one leaves: its own cache then counts outside the batch).
        Rows that rank above it stay: then it does not fit (it waits)."""
        while self.rows and self.allocated_bytes() > room():
            held = max(r.pos for r in self.rows)
            shape = self._shape(self.size, held + 1, self.size, held + 1, room())
            if shape is not None:
                self._rebuild(*shape)
                return
            victim = self._lowest()
            if _rank(victim.owner) <= _rank(for_owner):
                return
            self._evict(victim)

    def _join(self, row: BatchRow, n_pass: int) -> bool:
        """Copy `row`'s K/V in, if the tensors can hold it and the pass after within the
        room (its own cache's reservation, freed here, included)."""
        src = row.cache.layers
        n = cache_len(row.cache)
        b = self.size
        if not self.cell_bytes:
            self.cell_bytes = sum(x.shape[1] * x.shape[3] * x.element_size() for layer in src for x in (layer.keys, layer.values))
        room = self._room() + self._reserve(row.owner)
        rows_cap, cols_cap = self._capacity()
        if b >= rows_cap or max(n, self.cols.t) + n_pass > cols_cap or self.allocated_bytes() > room:
            held = max([r.pos for r in self.rows] + [n])
            want = (max(2 * rows_cap, b + 1, 2), max(n, self.cols.t) * 2 + self.min_cols)
            shape = self._shape(b + 1, held + n_pass, *want, room)
            if shape is None:
                return False
            self._rebuild(*shape, sample=src[0])
        for mine, theirs in zip(self.layers, src):
            mine.keys[b, :, :n] = theirs.keys[0, :, :n]
            mine.values[b, :, :n] = theirs.values[0, :, :n]
            # The request's own copy goes while it is a row (one copy of its K/V held).
            theirs.keys = theirs.keys[..., :0, :].clone()
            theirs.values = theirs.values[..., :0, :].clone()
        self.valid[b].zero_()
        self.valid[b, :n] = True
        self.cols.t = max(self.cols.t, n)
        row.slot, row.pos = b, n
        self.rows.append(row)
        return True

    def leave(self, row: BatchRow) -> None:
        """Copy `row`'s attended columns back into its `DynamicCache` and drop the row (the
        last row moves into its slot)."""
        i = row.slot
        assert i is not None
        cols = self.valid[i, : self.cols.t].nonzero().squeeze(-1)
        for mine, theirs in zip(self.layers, row.cache.layers):
            theirs.keys = mine.keys[i : i + 1, :, cols]  # indexing copies
            theirs.values = mine.values[i : i + 1, :, cols]
        last = self.size - 1
        if i != last:
            moved = self.rows[last]
            for layer in self.layers:
                layer.keys[i] = layer.keys[last]
                layer.values[i] = layer.values[last]
            self.valid[i] = self.valid[last]
            self.rows[i], moved.slot = moved, i
        self.rows.pop()
        row.slot = None
        if not self.rows:  # nothing held: give the memory back
            for layer in self.layers:
                layer.keys = layer.values = None
            self.valid = None
            self.cols.t = 0

    def truncate(self, row: BatchRow, n: int) -> None:
        """Keep the first `n` positions of `row`: later ones are left out of its attention."""
        if n >= row.pos:
            return
        i = row.slot
        cols = self.valid[i, : self.cols.t].nonzero().squeeze(-1)
        self.valid[i, cols[n:]] = False
        row.pos = n

    def _rebuild(self, rows: int, cols: int, sample: Any = None) -> None:
        """New tensors of `rows` x `cols`, each row's attended columns packed to its front."""
        import torch

        self.rebuilds += 1
        old_t = self.cols.t
        packed = [self.valid[r.slot, :old_t].nonzero().squeeze(-1) for r in self.rows]
        new_t = max((len(p) for p in packed), default=0)
        for layer in self.layers:
            ref = layer.keys if layer.keys is not None else sample.keys
            refv = layer.values if layer.values is not None else sample.values
            h, d, dv = ref.shape[1], ref.shape[3], refv.shape[3]
            keys = torch.zeros(rows, h, cols, d, dtype=ref.dtype, device=ref.device)
            values = torch.zeros(rows, h, cols, dv, dtype=refv.dtype, device=refv.device)
            for r, idx in zip(self.rows, packed):
                keys[r.slot, :, : len(idx)] = layer.keys[r.slot, :, idx]
                values[r.slot, :, : len(idx)] = layer.values[r.slot, :, idx]
            layer.keys, layer.values = keys, values
        valid = torch.zeros(rows, cols, dtype=torch.bool, device=self.device)
        for r, idx in zip(self.rows, packed):
            valid[r.slot, : len(idx)] = True
        self.valid = valid
        self.cols.t = new_t

    # -- the pass -----------------------------------------------------------------------
    def run(self, feeds: dict[BatchRow, list[int]]) -> dict[BatchRow, Any]:
        """One forward over every row: `feeds`' tokens after each one's K/V (rows not in
        it, and shorter feeds, padded and masked). Logits (float) for each fed token; a
        row without any was not run (no room for it in the batch: it is out of it now)."""
        import torch

        n = max(len(ids) for ids in feeds.values())
        feeds = dict(feeds)
        for row in sorted((r for r in feeds if not r.joined), key=lambda r: _rank(r.owner)):
            if not self._join(row, n):
                del feeds[row]
        while True:
            if not feeds:
                return {}
            b, t = self.size, self.cols.t
            held = max(r.pos for r in self.rows)
            rows_cap, cols_cap = self._capacity()
            room = self._room()
            # Full, mostly holes, or more than the room (it shrank since the last rebuild).
            if t + n <= cols_cap and t <= 2 * held + self.min_cols and self.allocated_bytes() <= room:
                break
            shape = self._shape(b, held + n, rows_cap, max(2 * (held + n), held + n + self.min_cols), room)
            if shape is not None:
                self._rebuild(*shape)
                break
            victim = self._lowest()
            feeds.pop(victim, None)
            self._evict(victim)
        t = self.cols.t
        dev = self.device
        ids = torch.full((b, n), self.pad_id, dtype=torch.long)
        fed = torch.zeros(b, dtype=torch.long)
        pos = torch.tensor([r.pos for r in self.rows], dtype=torch.long)
        for row, toks in feeds.items():
            ids[row.slot, : len(toks)] = torch.tensor(toks, dtype=torch.long)
            fed[row.slot] = len(toks)
        ar = torch.arange(n)
        positions = pos[:, None] + ar[None, :]
        new_valid = (ar[None, :] < fed[:, None]).to(dev)  # (b, n)
        # Keys: a row's old columns it attends, then the new ones causally; a pad query
        # also sees itself (no all-masked row: its output is unused but must stay finite).
        ar = ar.to(dev)
        causal = ar[None, :] <= ar[:, None]  # (query, key)
        new_keys = (causal[None] & new_valid[:, None, :]) | torch.eye(n, dtype=torch.bool, device=dev)[None]
        old = self.valid[:b, :t][:, None, :].expand(b, n, t)
        mask = torch.cat([old, new_keys], dim=-1)[:, None]
        self.cols.n = n
        out = self.model(
            input_ids=ids.to(dev),
            position_ids=positions.to(dev),
            attention_mask=mask,
            past_key_values=self.cache,
            use_cache=True,
        )
        self.valid[:b, t : t + n] = new_valid
        self.cols.t = t + n
        self.passes += 1
        logits = out.logits
        result = {}
        for row, toks in feeds.items():
            result[row] = logits[row.slot, : len(toks)].float()
            row.pos += len(toks)
        return result
