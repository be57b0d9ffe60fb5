"""A checkpointed fit that kills its own process mid-way (the resume tests).

``python -m tests.estimators._killed_fit DATA CHECKPOINTS CHUNKS``: fits
``test_streaming_fit.RESUMED()`` on the CSV files ``DATA``; once a checkpoint
exists and ``CHUNKS`` chunks have been read, the process sends itself
SIGKILL, as an out-of-memory killer or a preempted machine would.
"""

import os
import signal
import sys

from tf_lattice.estimators import FileSource


class _KilledSource(FileSource):
    def __init__(self, *args, checkpoints, chunks, **kwargs):
        super().__init__(*args, **kwargs)
        self.checkpoints, self.chunks, self.count = checkpoints, chunks, 0

    def read(self, piece, skip=0):
        for chunk in super().read(piece, skip):
            self.count += 1
            if self.count >= self.chunks and os.path.exists(
                    os.path.join(self.checkpoints, "latest.json")):
                os.kill(os.getpid(), signal.SIGKILL)
            yield chunk


def main(data, checkpoints, chunks):
    from tests.estimators.test_streaming_fit import RESUMED, resumed_source

    source = resumed_source(data, _KilledSource, checkpoints=checkpoints, chunks=int(chunks))
    RESUMED().fit(source, checkpoint_dir=checkpoints)
    sys.exit("the fit ended before it was killed")


if __name__ == "__main__":
    main(*sys.argv[1:])
