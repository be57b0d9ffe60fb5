"""The rows each worker trains on, step by step: sharded, shuffled, resumable.

The pieces of a source are dealt round-robin to ``S`` *shards* (``S`` fixed
by the data, not by the number of workers), and the shards to the workers.
Every optimizer step takes ``b_s`` rows from each shard ``s``, with the
global batch ``B = sum_s b_s`` split in proportion to the shards' rows, so
each row is seen about once per epoch however uneven the shards, and every
worker runs the same number of steps (nothing waits in a collective for a
worker that ran out of rows).

A shard is an endless stream over passes of its pieces: pass ``r`` reads
the pieces in a permuted order (seeded by ``(seed, s, r)``) and shuffles
each window of ``W`` consecutive rows (seeded by ``(seed, s, r, w)``). The
stream is a fixed function of the seed, so

- a global batch holds the same rows whichever worker reads each shard:
  one worker and several train on the same batches, and
- the stream can restart at any row: a resumed fit reads what the
  uninterrupted one would have (shard ``s`` is at row ``step * b_s``).
"""

import queue
import threading

import numpy as np

from tf_lattice.estimators._sources import DataError

#: Shards of a source with at least this many pieces.
DEFAULT_SHARDS = 8
#: Rows a traced call trains on (whole steps; an epoch's last call may be shorter).
CHUNK_ROWS = 65536
#: Pieces of at most this many rows (Parquet row groups, frame slices) are
#: converted whole when a shard reaches them; longer ones stream.
EAGER_ROWS = 1 << 20


def shard_count(num_pieces, num_workers):
    """``max(num_workers, min(num_pieces, DEFAULT_SHARDS))``: the same for
    every number of workers up to ``DEFAULT_SHARDS``."""
    return max(int(num_workers), min(int(num_pieces), DEFAULT_SHARDS), 1)


def allocate(total, sizes):
    """Splits ``total`` in proportion to ``sizes`` (largest remainders).

    Returns:
      int array summing to ``total`` (zeros where a size is 0).
    """
    sizes = np.asarray(sizes, np.float64)
    if sizes.sum() <= 0:
        raise ValueError("no rows to train on")
    exact = total * sizes / sizes.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.lexsort((np.arange(len(sizes)), -(exact - counts)))
    counts[order[:int(total - counts.sum())]] += 1
    return counts


class ShardStream:
    """The endless, shuffled row stream of one shard (see the module docstring).

    Args:
      source: a bound :class:`~tf_lattice.estimators._sources.Source`.
      pieces: the shard's pieces.
      piece_rows: rows of every piece of the source (by piece index).
      window: rows shuffled together.
      seed: the fit's seed.
      shard: the shard's number.
      convert: chunk -> tuple of arrays with one row per example.
    """

    def __init__(self, source, pieces, piece_rows, window, seed, shard, convert):
        self.source = source
        self.pieces = list(pieces)
        self.piece_rows = [int(piece_rows[p.index]) for p in self.pieces]
        self.rows = int(sum(self.piece_rows))
        self.window = max(1, int(window))
        self.seed, self.shard, self.convert = int(seed), int(shard), convert
        self.buffer, self.position = None, 0
        self.round = self.window_index = 0
        self.reader, self.pending = None, []

    def _order(self, round_):
        rng = np.random.default_rng([self.seed, self.shard, round_])
        return rng.permutation(len(self.pieces))

    def _reader(self, round_, skip):
        """Converted arrays of pass ``round_`` from its row ``skip`` on."""
        for k in self._order(round_):
            rows = self.piece_rows[k]
            if skip >= rows:
                skip -= rows
                continue
            piece, read = self.pieces[k], 0
            chunks = self.source.read(piece, skip=skip)
            if piece.rows is not None and piece.rows <= EAGER_ROWS:
                # Converted at once, so the piece's raw (decoded) data is freed now
                # rather than held while the other shards take their turns.
                chunks = [self.convert(chunk) for chunk in chunks]
            else:
                chunks = (self.convert(chunk) for chunk in chunks)
            for part in chunks:
                read += len(part[0])
                yield part
            if read != rows - skip:
                raise DataError(f"{self.pieces[k].path}: read {read + skip} rows where the "
                                f"statistics pass counted {rows}; was the file changed during "
                                "the fit?")
            skip = 0

    def seek(self, offset):
        """Continues the stream from its row ``offset`` (counted over passes)."""
        self.round, within = divmod(int(offset), max(self.rows, 1))
        self.window_index, inside = divmod(within, self.window)
        self.reader = self._reader(self.round, self.window_index * self.window)
        self.pending = []
        if self.rows:
            self._fill()
            self.position = inside

    def _fill(self):
        """Reads the current window and shuffles it."""
        need = min(self.window, self.rows - self.window_index * self.window)
        parts, got = [], 0
        while got < need:
            if self.pending:
                part = self.pending.pop()
            else:
                part = next(self.reader, None)
                if part is None:
                    raise DataError(f"shard {self.shard} ended after {got} rows of a window of "
                                    f"{need}; were files changed during the fit?")
            size = len(part[0])
            if got + size > need:
                cut = need - got
                self.pending.append(tuple(a[cut:] for a in part))
                part = tuple(a[:cut] for a in part)
                size = cut
            parts.append(part)
            got += size
        rng = np.random.default_rng([self.seed, self.shard, self.round, self.window_index])
        order = rng.permutation(need)
        self.buffer = tuple(np.concatenate([p[j] for p in parts])[order]
                            for j in range(len(parts[0])))
        self.position = 0

    def _advance(self):
        self.window_index += 1
        if self.window_index * self.window >= self.rows:
            self.round += 1
            self.window_index = 0
            self.reader = self._reader(self.round, 0)
            self.pending = []
        self._fill()

    def take(self, count):
        """The next ``count`` rows of the stream."""
        if count == 0 or not self.rows:
            return None
        parts, got = [], 0
        while got < count:
            if self.position >= len(self.buffer[0]):
                self._advance()
            size = min(count - got, len(self.buffer[0]) - self.position)
            parts.append(tuple(a[self.position:self.position + size] for a in self.buffer))
            self.position += size
            got += size
        if len(parts) == 1:
            return parts[0]
        return tuple(np.concatenate([p[j] for p in parts]) for j in range(len(parts[0])))


class WorkerFeed:
    """The rows of this worker's shards, as ``steps * local_batch`` arrays in
    step order (step ``t`` is rows ``[t b, (t + 1) b)``).

    Args:
      streams: this worker's ``ShardStream`` objects.
      batch_sizes: rows per step from each of them.
    """

    def __init__(self, streams, batch_sizes):
        self.streams = list(streams)
        self.batch_sizes = [int(b) for b in batch_sizes]
        self.local_batch = int(sum(self.batch_sizes))

    def seek(self, step):
        """Positions every stream at optimizer step ``step``."""
        for stream, size in zip(self.streams, self.batch_sizes):
            stream.seek(step * size)

    def take(self, steps, empty):
        """The next ``steps`` steps' rows; ``empty`` gives zero-row arrays."""
        blocks = []
        for stream, size in zip(self.streams, self.batch_sizes):
            part = stream.take(steps * size)
            if part is not None:
                blocks.append(tuple(a.reshape((steps, size) + a.shape[1:]) for a in part))
        if not blocks:
            return empty(0)
        return tuple(np.concatenate([b[j] for b in blocks], axis=1).reshape(
            (steps * self.local_batch,) + blocks[0][j].shape[2:]) for j in range(len(blocks[0])))


class Prefetcher:
    """Produces ``make(n)`` for each ``n`` of ``plan`` on a background thread,
    ``depth`` ahead, after calling ``begin()`` there; errors surface on the
    consumer's side."""

    def __init__(self, plan, make, depth=2, begin=None):
        plan = list(plan)
        self.count = len(plan)
        self.queue = queue.Queue(maxsize=depth)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(plan, make, begin), daemon=True)
        self.thread.start()

    def _run(self, plan, make, begin):
        try:
            if begin is not None:
                begin()
            for steps in plan:
                item = (steps, make(steps), None)
                while not self.stopped.is_set():
                    try:
                        self.queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self.stopped.is_set():
                    return
        except BaseException as error:  # handed to the consumer
            self.queue.put((None, None, error))

    def __iter__(self):
        for _ in range(self.count):
            steps, item, error = self.queue.get()
            if error is not None:
                raise error
            yield steps, item

    def close(self):
        self.stopped.set()
