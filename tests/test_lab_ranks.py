"""`lab.ranks`: what differs between a one-process and an N-rank training run, checked with a
communicator stand-in (the real N-rank run: tests/test_distributed_cli.py under mpiexec)."""

import numpy as np
import pytest

from tinyclipnn.lab.interrupt import InterruptGuard
from tinyclipnn.lab.ranks import MPIRanks, OneProcess


class FakeComm:
    """Rank ``rank`` of ``size``; the collectives act as if every rank passed the same value
    (``bcast`` returns the root's object, ``Allreduce`` sums ``size`` copies)."""

    def __init__(self, rank, size):
        self.rank, self.size = rank, size

    def Get_rank(self):  # noqa: N802 - mpi4py's names
        return self.rank

    def Get_size(self):  # noqa: N802
        return self.size

    def bcast(self, obj, root=0):
        return obj if self.rank == root else ValueError("raised on rank 0")

    def Allreduce(self, send, recv):  # noqa: N802
        recv[:] = self.size * np.asarray(send)


@pytest.mark.parametrize("size,batch", [(1, 8), (2, 8), (3, 9), (4, 32)])
def test_rank_slices_tile_the_global_batch(size, batch):
    covered = np.concatenate([np.arange(batch)[MPIRanks(FakeComm(r, size)).my_slice(batch)]
                              for r in range(size)])
    np.testing.assert_array_equal(covered, np.arange(batch))
    assert OneProcess().my_slice(batch) == slice(0, batch)


def test_a_check_failing_on_rank_0_raises_on_every_rank():
    def check():
        raise ValueError("--out is a file")

    with pytest.raises(ValueError, match="--out is a file"):
        MPIRanks(FakeComm(0, 2)).on_root(check)
    with pytest.raises(ValueError, match="raised on rank 0"):
        MPIRanks(FakeComm(1, 2)).on_root(lambda: None)  # its check is not run, rank 0's error is
    with pytest.raises(ValueError, match="--out is a file"):
        OneProcess().on_root(check)


def test_ctrl_c_stops_one_process_before_the_step_and_n_ranks_after_it():
    guard = InterruptGuard()
    guard.count = 1  # a deferred Ctrl-C is pending
    with pytest.raises(KeyboardInterrupt):
        OneProcess().before_step(guard)
    assert OneProcess().after_step(2.5, guard) == (2.5, False)
    ranks = MPIRanks(FakeComm(1, 4))
    ranks.before_step(guard)  # no rank stops alone: they agree after the step
    assert ranks.after_step(2.5, guard) == (2.5, True)  # mean loss, a stop
    guard.count = 0
    assert ranks.after_step(1.0, guard) == (1.0, False)
    assert ranks.metadata == {"ranks": 4} and OneProcess().metadata == {}
