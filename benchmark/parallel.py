"""Where the units of a run are computed: here one after another, in worker processes on this
machine (``--jobs N``), or on a Dask cluster (``--cluster``).

A unit (see :mod:`benchmark.units`) is a function ``fn(data, task, where)`` of the run's data,
one task and a description of where it runs; every engine gives back ``(index, result)`` pairs
as units finish, in any order, and the process that started the run writes what they return.
Nothing here is a scheduler of its own: the local engine is joblib's loky process pool, the
cluster engine is Dask's distributed scheduler.

Each worker's native thread pools (OpenMP, BLAS, torch) are capped to its share of the cores,
so ``N`` workers do not oversubscribe them; the caps in force are part of every record.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dataset import SentibenchError, UsageError

from .environment import cpu_model

logger = logging.getLogger(__name__)

__all__ = ["Engine", "Sequential", "LocalProcesses", "DaskCluster", "ClusterError", "make_engine", "thread_caps"]

#: Environment variables that size the native thread pools a fresh process starts with
#: (torch reads OMP_NUM_THREADS when it is first imported).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
#: Environment variable naming the Dask scheduler when ``--cluster`` is not given.
SCHEDULER_VARIABLE = "SENTIBENCH_DASK_SCHEDULER"
#: How long to try reaching the Dask scheduler before saying it cannot be reached.
CONNECT_TIMEOUT_S = 20
#: How many times the run's data is scattered again after the worker holding it died.
RESCATTERS = 3
#: Seconds to wait for workers to take the run's data (a cluster whose workers are all gone has none).
SCATTER_TIMEOUT_S = 120

Unit = Callable[[object, object, dict], object]


class ClusterError(SentibenchError):
    """The Dask cluster could not run a unit (unreachable, or its workers kept dying)."""


def threads_in_use() -> dict:
    """The sizes of the native thread pools loaded in this process (threadpoolctl), and torch's."""
    from threadpoolctl import threadpool_info

    sizes: dict = {}
    for pool in threadpool_info():
        api = pool.get("user_api")
        sizes[api] = max(sizes.get(api, 0), int(pool.get("num_threads") or 0))
    torch = sys.modules.get("torch")
    if torch is not None:
        sizes["torch"] = torch.get_num_threads()
    return dict(sorted(sizes.items()))


@contextmanager
def thread_caps(cap: int | None):
    """Cap this process's native thread pools at ``cap`` threads while a unit runs (``None``:
    leave them). Libraries loaded already are capped through threadpoolctl and
    ``torch.set_num_threads``; those a unit loads later (torch, for BERT) read the environment."""
    if cap is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    saved_env = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update({k: str(cap) for k in THREAD_VARIABLES})
    torch = sys.modules.get("torch")
    torch_before = torch.get_num_threads() if torch is not None else None
    try:
        with threadpool_limits(limits=cap):
            if torch is not None:
                torch.set_num_threads(cap)
            yield
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if torch is not None and torch_before is not None:
            torch.set_num_threads(torch_before)


def placement(engine: str, cap: int | None, worker: str | None = None) -> dict:
    """Where a unit runs: the engine, host, CPU, process and thread cap (its record's ``where``)."""
    return {"engine": engine, "host": socket.gethostname(), "cpu": cpu_model(), "pid": os.getpid(),
            **({"worker": worker} if worker else {}), "thread_cap": cap}


def _call(fn: Unit, data, task, engine: str, cap: int | None, worker: str | None = None):
    """Run one unit under its thread cap; its ``where`` lists the thread pools it ran with."""
    with thread_caps(cap):
        where = placement(engine, cap, worker)
        result = fn(data, task, where)
        where["threads"] = threads_in_use()  # after the unit: pools it loaded itself count too
    return result


class Engine:
    """Runs units and yields ``(index, result)`` as each finishes; a unit's one-line error
    (a :class:`~dataset.SentibenchError`) is yielded in place of its result."""

    kind = "sequential"
    #: Units run beside each other: their timings of prediction are taken afterwards, alone.
    parallel = False
    #: How many units run at once.
    workers = 1

    def start(self, data) -> None:
        """Hand the run's data to wherever units run (once per run)."""
        self._data = data

    def map_unordered(self, fn: Unit, tasks: list) -> Iterator[tuple[int, object]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (also after an error or Ctrl-C)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Sequential(Engine):
    """One unit after another in this process, each measured in full (latency included)."""

    def map_unordered(self, fn, tasks):
        for index, task in enumerate(tasks):
            try:
                yield index, _call(fn, self._data, task, self.kind, None)
            except SentibenchError as exc:
                yield index, exc


# -- worker processes on this machine (joblib's loky) ---------------------------------------

_WORKER_DATA = None


def _receive_data(data) -> None:
    """The loky pool's initializer: each worker process gets the run's data once."""
    global _WORKER_DATA
    _WORKER_DATA = data


def _call_in_worker(fn, task, cap):
    return _call(fn, _WORKER_DATA, task, "loky", cap)


class LocalProcesses(Engine):
    """``--jobs N``: N worker processes of joblib's loky pool, each capped to cores / N threads.

    The data reaches each worker once, through the pool's initializer (``joblib.Parallel``
    would pickle it again with every unit).
    """

    kind = "loky"
    parallel = True

    def __init__(self, jobs: int):
        self.jobs = self.workers = jobs
        self.cap = max(1, (os.cpu_count() or 1) // jobs)
        self._executor = None

    def start(self, data) -> None:
        from joblib.externals.loky import ProcessPoolExecutor

        self._executor = ProcessPoolExecutor(
            max_workers=self.jobs, initializer=_receive_data, initargs=(data,),
            env={k: str(self.cap) for k in THREAD_VARIABLES},
        )
        logger.info("%d worker processes, %d thread(s) each", self.jobs, self.cap)

    def map_unordered(self, fn, tasks):
        from joblib.externals.loky import as_completed

        futures = {self._executor.submit(_call_in_worker, fn, task, self.cap): i for i, task in enumerate(tasks)}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result()
            except SentibenchError as exc:
                yield futures[future], exc

    def close(self) -> None:
        if self._executor is not None:
            # After Ctrl-C or an error the units still running are not waited for.
            self._executor.shutdown(wait=False, kill_workers=True)
            self._executor = None


# -- a Dask cluster -------------------------------------------------------------------------


def _call_on_dask(fn, data, task, caps: dict):
    from distributed import get_worker

    address = get_worker().address
    return _call(fn, data, task, "dask", caps.get(address, 1), worker=address)


class DaskCluster(Engine):
    """``--cluster tcp://HOST:8786``: units go to the workers of a Dask scheduler.

    The data is scattered to every worker once per run. A unit whose worker dies is given
    to another worker by the scheduler (up to ``distributed.scheduler.allowed-failures``
    times), so a killed worker costs that unit only. Scattered data cannot be recomputed,
    and the scheduler keeps a single copy of it once the broadcast copies are not needed;
    should the worker holding it die, the data is scattered again and the units it cancelled
    are sent again (up to :data:`RESCATTERS` times). A unit's own error is not retried (it
    would fail the same way). Each unit's threads are capped to its host's cores divided by
    the worker threads on that host.
    """

    kind = "dask"
    parallel = True

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--cluster needs Dask: pip install 'sentibench[dask]' (here and on every worker)") from None
        try:
            self.client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {' '.join(str(exc).split())[:200]}") from None
        self.address = address
        self._data = None
        self._run = uuid.uuid4().hex[:8]
        self._futures: dict = {}  # key -> (unit index, future), of the units sent and not yet returned

    def _workers(self) -> dict:
        try:
            return self.client.scheduler_info(n_workers=-1)["workers"]  # every worker (some versions list 5 by default)
        except TypeError:  # older distributed: every worker anyway
            return self.client.scheduler_info()["workers"]

    def _caps(self) -> dict[str, int]:
        workers = self._workers()
        cores = self.client.run(os.cpu_count)
        per_host: dict[str, int] = {}
        for info in workers.values():
            per_host[info["host"]] = per_host.get(info["host"], 0) + int(info.get("nthreads") or 1)
        return {addr: max(1, (cores.get(addr) or 1) // per_host[info["host"]]) for addr, info in workers.items()}

    def start(self, data) -> None:
        workers = self._workers()
        if not workers:
            raise ClusterError(f"the Dask scheduler at {self.address} has no workers; start some with: dask worker {self.address}")
        self.workers = sum(int(info.get("nthreads") or 1) for info in workers.values())
        self._source = data
        self._data = self._scatter()
        self._caps_by_worker = self._caps()
        logger.info("Dask scheduler %s: %d workers", self.address, len(workers))

    def _scatter(self):
        """The run's data, sent to every worker (one line should the workers be gone meanwhile)."""
        try:
            return self.client.scatter(self._source, broadcast=True, hash=False, timeout=SCATTER_TIMEOUT_S)
        except (KeyError, OSError, TimeoutError) as exc:  # the scheduler's own: a worker it named is gone, or none came
            raise ClusterError(f"could not send the run's data to the workers of the Dask scheduler at {self.address} "
                               f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); start workers, then "
                               f"resume the run") from None

    def _submit(self, fn, task, index: int, attempt: int):
        key = f"sentibench-{self._run}-{index}" + (f"-again{attempt}" if attempt else "")
        future = self.client.submit(_call_on_dask, fn, self._data, task, self._caps_by_worker, pure=False, key=key)
        self._futures[future.key] = (index, future)
        return future

    def map_unordered(self, fn, tasks):
        from distributed import as_completed
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        attempt = 0
        waiting = as_completed([self._submit(fn, task, i, 0) for i, task in enumerate(tasks)], loop=self.client.loop)
        for future in waiting:  # this client's loop, not Dask's default client
            index, _ = self._futures.pop(future.key, (None, None))
            if index is None:
                continue  # a unit sent again after its data was lost
            try:
                result = future.result()
            except SentibenchError as exc:
                yield index, exc
                continue
            except (KilledWorker, FutureCancelledError) as exc:
                if self._data.status == "finished" or attempt >= RESCATTERS:
                    raise ClusterError(f"the Dask cluster could not run unit {index + 1} of {len(tasks)}: "
                                       f"{' '.join(str(exc).split())[:300]}") from None
                attempt += 1
                logger.warning("a Dask worker died with the run's data; sending the data and %d unit(s) again",
                               len(self._futures) + 1)
                self._data = self._scatter()
                again = [index, *(i for i, _ in self._futures.values())]
                self.client.cancel([f for _, f in self._futures.values()])
                self._futures.clear()
                waiting.update([self._submit(fn, tasks[i], i, attempt) for i in again])
                continue
            future.release()
            yield index, result

    def close(self) -> None:
        if self._futures:
            self.client.cancel([f for _, f in self._futures.values()])
        self.client.close()


def make_engine(jobs: int = 1, cluster: str | None = None) -> Engine:
    """The engine of ``--jobs`` / ``--cluster`` (``jobs`` 1 and no cluster: this process)."""
    if cluster:
        return DaskCluster(cluster)
    if jobs > 1:
        return LocalProcesses(jobs)
    return Sequential()
