"""TF_CONFIG helpers and the local launcher (no TensorFlow in the workers)."""

import io
import json
import sys
import time

import pytest

from tf_lattice import distribute


def _config(task_type, index, workers=2, chiefs=0):
    cluster = {"worker": [f"h{k}:1" for k in range(workers)]}
    if chiefs:
        cluster["chief"] = ["c:1"]
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": task_type,
                                                                   "index": index}})}


def test_ranks_and_the_chief_from_tf_config():
    assert (distribute.num_workers({}), distribute.worker_rank({}), distribute.is_chief({})) == \
        (1, 0, True)
    assert distribute.num_workers(_config("worker", 1)) == 2
    assert distribute.worker_rank(_config("worker", 1)) == 1
    assert not distribute.is_chief(_config("worker", 1))
    assert distribute.num_workers(_config("worker", 0, chiefs=1)) == 3
    assert distribute.worker_rank(_config("worker", 0, chiefs=1)) == 1
    assert distribute.is_chief(_config("chief", 0, chiefs=1))
    with pytest.raises(ValueError, match="not valid JSON"):
        distribute.num_workers({"TF_CONFIG": "{"})


def test_each_local_worker_gets_its_tf_config_and_a_share_of_the_cores():
    environments = distribute.worker_environments(3, environ={})
    configs = [json.loads(env["TF_CONFIG"]) for env in environments]
    assert [c["task"]["index"] for c in configs] == [0, 1, 2]
    assert len({tuple(c["cluster"]["worker"]) for c in configs}) == 1
    assert len(set(configs[0]["cluster"]["worker"])) == 3
    assert all(int(env["TF_NUM_INTRAOP_THREADS"]) >= 1 for env in environments)


_WORKER = ("import json, os, sys, time\n"
           "rank = json.loads(os.environ['TF_CONFIG'])['task']['index']\n"
           "print('ready', rank, flush=True)\n"
           "sys.exit(3) if rank == 1 else time.sleep(120)\n")


def test_a_failing_worker_stops_the_others():
    out = io.StringIO()
    start = time.monotonic()
    code = distribute.launch([sys.executable, "-c", _WORKER], 2, timeout=60, out=out)
    assert code == 3 and time.monotonic() - start < 30
    assert "[worker 1] ready 1" in out.getvalue() and "[worker 0] ready 0" in out.getvalue()


def test_the_launcher_stops_workers_at_its_timeout():
    out = io.StringIO()
    code = distribute.launch([sys.executable, "-c", "import time; time.sleep(120)"], 2,
                             timeout=1, out=out)
    assert code == 124 and "stopping the workers" in out.getvalue()
