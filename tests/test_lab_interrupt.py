"""lab.interrupt with real SIGINTs sent to this process: counted always, deferred (first one
requests a stop, the next raises), shielded (held until the write is done, then handed on),
InterruptGuard (no stop request: its loop decides), someone else's handler left alone, and
run_loop ending at the next step when a Ctrl-C is deferred."""

import os
import signal

import pytest

from tinyclipnn.lab import interrupt
from tinyclipnn.lab.interrupt import InterruptGuard, deferred, raising, shielded
from tinyclipnn.lab.loop import run_loop


def _ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)  # the handler runs before os.kill returns to Python


@pytest.mark.timeout(30)
def test_deferred_first_ctrl_c_requests_a_stop_the_second_raises():
    before = interrupt.sigint_count()
    with deferred() as d:
        _ctrl_c()
        assert d.pending and d.received == 1 and interrupt.stop_requested()
        with pytest.raises(KeyboardInterrupt):
            _ctrl_c()
    assert interrupt.sigint_count() == before + 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.timeout(30)
def test_shielded_write_completes_then_the_ctrl_c_is_handed_on(tmp_path):
    done = []
    with pytest.raises(KeyboardInterrupt), raising(), shielded():
        _ctrl_c()
        _ctrl_c()
        done.append("written")  # not reached if the shield let a KeyboardInterrupt through
    assert done == ["written"]
    with deferred() as d:
        with shielded():
            _ctrl_c()
        assert d.pending  # handed to the enclosing deferred: a stop request, no exception


@pytest.mark.timeout(30)
def test_interrupt_guard_defers_to_check_without_a_stop_request():
    with InterruptGuard() as g:
        _ctrl_c()
        assert g.pending and not interrupt.stop_requested()  # data-parallel ranks agree first
        with pytest.raises(KeyboardInterrupt):
            g.check()


@pytest.mark.timeout(30)
def test_a_foreign_handler_is_left_alone():
    seen = []
    previous = signal.signal(signal.SIGINT, lambda s, f: seen.append(s))
    try:
        with deferred() as d:
            assert signal.getsignal(signal.SIGINT) is not d._on_sigint
            _ctrl_c()
        assert seen == [signal.SIGINT] and not d.pending
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.timeout(30)
def test_run_loop_ends_at_the_next_step_after_a_deferred_ctrl_c():
    cuts = interrupt.cut_count()

    def step(k):
        if k == 3:
            _ctrl_c()
        return {"loss": 1.0}

    with deferred():
        res = run_loop(step, 50, quiet=True)
    assert res.interrupted and res.steps == 4  # step 3 finished, step 4 never started
    assert interrupt.cut_count() == cuts + 1
