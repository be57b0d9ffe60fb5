"""Training on several machines: TF_CONFIG, the chief, and a local launcher.

The estimators train on several workers under
``tf.distribute.MultiWorkerMirroredStrategy``, synchronously: every worker
runs the same program, reads its own share of the data, and all keep the
same weights (see :mod:`tf_lattice.estimators`). Each worker learns the
cluster from the ``TF_CONFIG`` environment variable, which Kubeflow's
TFJob and Ray set (a Slurm job script writes it from ``SLURM_PROCID`` and the
node list); for example, on worker 1 of two::

  TF_CONFIG='{"cluster": {"worker": ["host0:2222", "host1:2222"]},
              "task": {"type": "worker", "index": 1}}'

A training program, the same on every worker::

  from tf_lattice import distribute
  from tf_lattice.estimators import CalibratedLatticeEnsembleRegressor, FileSource

  strategy = distribute.strategy()  # first: before any other TensorFlow call
  model = CalibratedLatticeEnsembleRegressor(
      monotonicity={"size": "increasing"}, distribute_strategy=strategy)
  model.fit(FileSource("data/*.parquet", target="price"), checkpoint_dir="ckpt")
  if distribute.is_chief():
      model.save("model.keras")

To try it on one machine, :func:`launch` starts ``N`` workers on loopback
ports, each with its ``TF_CONFIG``::

  python -m tf_lattice.distribute --workers 2 -- python train.py

(``tf-lattice fit --workers N`` does the same for the command line). The
workers share the machine's cores; the launcher gives each
``TF_NUM_INTRAOP_THREADS = cores / N`` unless that is set.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

#: Seconds a worker gets to stop after SIGTERM before it is killed.
STOP_GRACE_SECONDS = 10.0


def cluster_config(environ=None):
    """The parsed ``TF_CONFIG`` (a dict), or None where it is unset or empty."""
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "")
    if not text.strip():
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON: {error}") from None
    if not isinstance(config, dict) or "cluster" not in config:
        raise ValueError("TF_CONFIG must be a JSON object with a 'cluster' entry")
    return config


def num_workers(environ=None):
    """Workers (chief included) that ``TF_CONFIG`` lists; 1 without it."""
    config = cluster_config(environ)
    if config is None:
        return 1
    cluster = config["cluster"]
    return max(1, len(cluster.get("chief", [])) + len(cluster.get("worker", [])))


def worker_rank(environ=None):
    """This worker's rank: the chief (or worker 0 without one) is 0."""
    config = cluster_config(environ)
    if config is None:
        return 0
    task = config.get("task", {})
    chiefs = len(config["cluster"].get("chief", []))
    index = int(task.get("index", 0))
    return index if task.get("type") == "chief" else chiefs + index


def is_chief(environ=None):
    """Whether this process is the chief (it certifies and saves)."""
    return worker_rank(environ) == 0


def strategy():
    """A ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` lists several
    workers, else None. Call it before any other TensorFlow operation."""
    if num_workers() <= 1:
        return None
    import tensorflow as tf

    return tf.distribute.MultiWorkerMirroredStrategy()


def free_ports(count, host="127.0.0.1"):
    """``count`` TCP ports free on ``host`` just now."""
    sockets, ports = [], []
    try:
        for _ in range(count):
            handle = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            handle.bind((host, 0))
            sockets.append(handle)
            ports.append(handle.getsockname()[1])
    finally:
        for handle in sockets:
            handle.close()
    return ports


def worker_environments(workers, environ=None, host="127.0.0.1"):
    """One environment per local worker: ``TF_CONFIG`` on free loopback ports,
    and a share of the cores unless ``TF_NUM_INTRAOP_THREADS`` is set."""
    base = dict(os.environ if environ is None else environ)
    cluster = {"worker": [f"{host}:{port}" for port in free_ports(workers, host)]}
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    environments = []
    for index in range(workers):
        environment = dict(base)
        environment["TF_CONFIG"] = json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}})
        environment.setdefault("TF_NUM_INTRAOP_THREADS", threads)
        environments.append(environment)
    return environments


def _pump(stream, prefix, out, lock):
    for line in iter(stream.readline, ""):
        with lock:
            out.write(prefix + line)
            out.flush()
    stream.close()


def _stop(processes):
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def launch(command, workers, *, environ=None, timeout=None, cwd=None, out=None):
    """Runs ``command`` as ``workers`` local workers and waits for them.

    Each worker gets ``TF_CONFIG`` for a cluster of loopback ports; their
    output is copied to ``out`` (default stdout), each line prefixed by
    ``[worker i]``. If a worker fails, the others are stopped (a worker left
    alone would wait for it in a collective).

    Args:
      command: the program and its arguments (a list).
      workers: how many workers, >= 1.
      environ: base environment (default ``os.environ``).
      timeout: seconds before every worker is stopped (None: no limit).
      cwd: working directory of the workers.
      out: a text stream for the workers' output.

    Returns:
      0 if every worker succeeded, else the first failing worker's exit code
      (124 on timeout).
    """
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = sys.stdout if out is None else out
    lock = threading.Lock()
    processes, pumps = [], []
    try:
        for index, environment in enumerate(worker_environments(workers, environ)):
            process = subprocess.Popen(list(command), env=environment, cwd=cwd, text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            processes.append(process)
            pump = threading.Thread(target=_pump, daemon=True,
                                    args=(process.stdout, f"[worker {index}] ", out, lock))
            pump.start()
            pumps.append(pump)
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        code = 0
        while True:
            codes = [process.poll() for process in processes]
            failed = [c for c in codes if c not in (None, 0)]
            if failed:
                code = failed[0]
                break
            if all(c == 0 for c in codes):
                break
            if deadline is not None and time.monotonic() > deadline:
                code = 124
                with lock:
                    out.write(f"[launcher] stopping the workers after {timeout} s\n")
                break
            time.sleep(0.2)
    finally:
        _stop(processes)
        for pump in pumps:
            pump.join(timeout=5.0)
    return code


def main(argv=None):
    """``python -m tf_lattice.distribute --workers N [--timeout S] -- COMMAND...``"""
    parser = argparse.ArgumentParser(
        prog="python -m tf_lattice.distribute",
        description="Run a training program as N workers on this machine (loopback ports), "
                    "each with its TF_CONFIG.")
    parser.add_argument("--workers", type=int, default=2, help="number of workers (default 2)")
    parser.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="the program to run, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the program to run after --")
    return launch(command, args.workers, timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
