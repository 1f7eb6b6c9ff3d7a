"""``python -m benchmark`` under torchrun, recording what each process trained on.

tests/test_distributed.py launches this file instead of ``-m benchmark``. It wraps the
shard function and ``BertClassifier._fit`` so that every process writes, into the folder
named by ``SENTIBENCH_TEST_TRACE_DIR``, the training indices it saw per epoch and a digest
of its final weights. Production code carries no trace hooks.
"""

import json
import os
import sys
from pathlib import Path

# torchrun puts this file's folder first on sys.path; the project root must come first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark.__main__ import main  # noqa: E402
from classifiers.bert import BertClassifier, _parallel  # noqa: E402
from classifiers.encoder.network import PooledClassifier  # noqa: E402
from tests._helpers import weights_digest  # noqa: E402

TRACE = Path(os.environ["SENTIBENCH_TEST_TRACE_DIR"])
_real_shard = _parallel.distributed_length_grouped_batches
_real_fit = BertClassifier._fit


def _traced_shard(lengths, batch_size, seed, epoch, rank, world_size):
    batches = _real_shard(lengths, batch_size, seed, epoch, rank, world_size)
    TRACE.mkdir(parents=True, exist_ok=True)
    indices = sorted(int(i) for b in batches for i in b)
    (TRACE / f"rank{rank}-epoch{epoch}.json").write_text(json.dumps(indices))
    return batches


def _traced_fit(self, *args, **kwargs):
    _real_fit(self, *args, **kwargs)
    rank = os.environ.get("RANK", "0")
    (TRACE / f"rank{rank}-weights.txt").write_text(weights_digest(PooledClassifier(self.model_, self.pooling)))


_parallel.distributed_length_grouped_batches = _traced_shard
BertClassifier._fit = _traced_fit

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
