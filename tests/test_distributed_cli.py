"""``mpiexec -n K tinyclipnn train-charlm --distributed`` against one process with the same
global batch, and ``tinyclipnn info`` under mpiexec."""

import csv
import subprocess
import sys

import pytest
from _mpi import needs_mpi, run_mpi, worker_env

pytestmark = needs_mpi

TEXT = "the quick brown fox jumps over the lazy dog. " * 200
ARGS = ["-m", "tinyclipnn", "train-charlm", "--steps", "50", "--hidden", "16", "--seq-len",
        "16", "--batch-size", "8", "--clip", "norm:0.5", "--quiet"]


def losses(folder):
    with open(folder / "metrics.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("charlm")
    text = tmp / "t.txt"
    text.write_text(TEXT)
    out = tmp / "one"
    res = subprocess.run([sys.executable, *ARGS, "--text", str(text), "--out", str(out)],
                         env=worker_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return text, losses(out)


def test_loss_curve_matches_one_process(one_process, tmp_path):
    """2 ranks x 4 windows vs 1 process x 8: the same loss curve, and one copy of the output."""
    text, ref = one_process
    out = tmp_path / "dist"
    args = [a for a in ARGS if a != "--quiet"]
    res = run_mpi(2, [*args, "--distributed", "--text", str(text), "--out", str(out)],
                  timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    got = losses(out)
    assert len(got) == len(ref) == 50
    worst = max(abs(a - b) / abs(b) for a, b in zip(got, ref, strict=True))
    assert worst < 1e-4, f"loss curves differ by {worst:.2e} relative"
    assert ref[-1] < ref[0]  # it trained
    files = {p.name for p in out.iterdir()}  # written once, by rank 0 (plot: matplotlib)
    assert {"metrics.csv", "metrics.json", "model.npz"} <= files <= {
        "metrics.csv", "metrics.json", "model.npz", "charlm_traces.png"}
    assert res.stdout.count("steps in") == 1, res.stdout  # rank 0 prints, the others do not
    assert res.stderr.count("train-charlm --distributed: 2 ranks x 4 windows") == 1


def test_batch_not_divisible_is_a_clear_error(one_process, tmp_path):
    text, _ = one_process
    args = list(ARGS)
    args[args.index("--batch-size") + 1] = "7"
    res = run_mpi(2, [*args, "--distributed", "--text", str(text), "--out", str(tmp_path)],
                  timeout=60)
    assert res.returncode != 0
    assert "--batch-size 7 must be a multiple of the number of ranks (2)" in res.stderr
    assert not (tmp_path / "model.npz").exists()


def test_info_shows_mpi_library_and_world_size():
    res = run_mpi(2, ["-m", "tinyclipnn", "info"], timeout=60)
    assert res.returncode == 0, res.stderr
    mpi_lines = [ln for ln in res.stdout.splitlines() if ln.startswith("MPI:")]
    assert len(mpi_lines) == 1, res.stdout  # rank 0 only
    assert "world size 2" in mpi_lines[0] and "mpi4py" in mpi_lines[0]


def test_ctrl_c_stops_every_rank_after_the_same_step(one_process, tmp_path):
    """SIGINT to mpiexec (which forwards it to every rank): the ranks agree on the step to
    stop after, rank 0 writes the checkpoint of the steps done, the exit status is 130."""
    import signal

    from _mpi import mpiexec

    text, _ = one_process
    args = [a for a in ARGS if a != "--quiet"]
    args[args.index("50")] = "100000"
    cmd = [mpiexec(), "-n", "2", sys.executable, *args, "--distributed", "--text", str(text),
           "--out", str(tmp_path)]
    proc = subprocess.Popen(cmd, env=worker_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:  # training has started once rank 0 prints its header
            if line.startswith("train-charlm --distributed"):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    assert "steps in" in out and (tmp_path / "model.npz").exists()
    assert 1 <= len(losses(tmp_path)) < 100000


def test_distributed_checkpoint_resumes_in_one_process(one_process, tmp_path):
    """The optimizer state is the same on every rank, so rank 0's checkpoint is an ordinary
    one: a one-process --resume continues it on the one-process loss curve."""
    text, ref = one_process
    args = list(ARGS)
    args[args.index("50")] = "6"
    res = run_mpi(2, [*args, "--distributed", "--text", str(text), "--out", str(tmp_path)])
    assert res.returncode == 0, res.stderr
    more = subprocess.run([sys.executable, "-m", "tinyclipnn", "train-charlm", "--resume",
                           str(tmp_path), "--steps", "10", "--quiet"], env=worker_env(),
                          capture_output=True, text=True, timeout=120)
    assert more.returncode == 0, more.stderr
    got = losses(tmp_path)
    assert len(got) == 10
    assert max(abs(a - b) / abs(b) for a, b in zip(got, ref[:10], strict=True)) < 1e-4
