"""The training rows of a streamed source, epoch by epoch: row groups in a seeded order through a shuffle buffer.

    stream = TrainStream(chunks, read, rows=len_train, buffer_rows=100_000)
    for block in stream.blocks(seed=7, batch_size=256): ...    # preprocessed Splits, shuffled

The next block is read, preprocessed and shuffled on a background thread while the training
thread trains on the current one (`ahead`): pyarrow's reads and numpy's copies release the GIL.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from netfit.data.parquet import Chunk
from netfit.data.prepared import Split


class TrainStream:
    """The training rows of a streamed source, preprocessed block by block."""

    def __init__(self, chunks: list[Chunk], read: Callable[[Chunk], Split | None], rows: int, buffer_rows: int):
        self.chunks, self.read, self.rows, self.buffer_rows = chunks, read, rows, buffer_rows

    def __len__(self) -> int:
        return self.rows

    def blocks(self, seed: int, batch_size: int, read_ahead: bool = True) -> Iterator[Split]:
        """Every training row once, shuffled: row groups in a seeded order through a shuffle buffer.

        Every block but the last holds a multiple of `batch_size` rows, so batches never straddle
        blocks and an epoch has ceil(rows / batch_size) of them. The same seed gives the same blocks,
        read ahead on a background thread or not.
        """
        made = self._blocks(seed, batch_size)
        return ahead(made) if read_ahead else made

    def _blocks(self, seed: int, batch_size: int) -> Iterator[Split]:
        rng = np.random.default_rng(seed)
        pending: list[Split] = []
        held = 0
        for k in rng.permutation(len(self.chunks)):
            part = self.read(self.chunks[k])
            if part is None:  # no training rows in this row group
                continue
            pending.append(part)
            held += len(part)
            if held >= self.buffer_rows:  # emit the shuffled buffer but half of it, which mixes with later chunks
                block = concat_splits(pending)
                order = rng.permutation(held)
                out = (held - self.buffer_rows // 2) // batch_size * batch_size
                if out:
                    yield take(block, order[:out])
                pending, held = [take(block, order[out:])], held - out
        if held:
            block = concat_splits(pending)
            yield take(block, rng.permutation(held))


def concat_splits(parts: list[Split]) -> Split:
    if len(parts) == 1:
        return parts[0]
    w = np.concatenate([p.w for p in parts]) if parts[0].w is not None else None
    return Split(np.concatenate([p.x_num for p in parts]), np.concatenate([p.x_cat for p in parts]),
                 np.concatenate([p.y for p in parts]), w, np.concatenate([p.rows for p in parts]))


def take(split: Split, idx: np.ndarray) -> Split:
    return Split(split.x_num[idx], split.x_cat[idx], split.y[idx], split.w[idx] if split.w is not None else None,
                 split.rows[idx])


_DONE = object()


def ahead(items: Iterable[Any], depth: int = 1) -> Iterator[Any]:
    """The items of `items`, made on a background thread at most `depth` items ahead of the consumer.

    An exception raised while making an item is raised here, in the consumer, in its place. Closing
    the iterator early (a `break`, a stop mid-epoch) stops the thread before this returns, so no
    read runs on after the epoch and memory stays bounded by depth + 2 items.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def make() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as e:  # handed to the consumer, which raises it: nothing is swallowed
            put((None, e))

    worker = threading.Thread(target=make, name="netfit-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, error = q.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        worker.join()
