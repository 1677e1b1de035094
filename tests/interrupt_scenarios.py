"""Runs ``tinyclipnn ARGS...`` with a test hook that tells the test when to press Ctrl-C
(tests/test_cli_interrupts.py sends real SIGINTs to this process).

``python interrupt_scenarios.py HOOK READY_FILE ARGS...``; the hook creates READY_FILE at the
moment the test waits for, and may pause there so that the signal lands at that point:

- ``slow-steps``: every training step takes 5 ms longer; READY after step 20.
- ``pause-after-loop``: the spirals demo pauses 2 s after its last step (before its second
  figure); READY then.
- ``pause-in-metrics-save``: once READY_FILE + ".go" exists, the next metrics write pauses 1 s
  (READY) before writing: the checkpoint + metrics unit is in progress.
- ``pause-in-plot``: train-charlm pauses 1.5 s after its last step, before its plot (READY).
- ``none``: no hook.
"""

import sys
import time
from pathlib import Path


def _ready(path: Path) -> None:
    path.write_text("ready")


def install(hook: str, ready: Path) -> None:
    if hook == "slow-steps":
        from tinyclipnn.lab import progress

        update = progress.ProgressReporter.update

        def slow_update(self, *a, **k):
            update(self, *a, **k)
            if self.steps == 20:
                _ready(ready)
            time.sleep(0.005)

        progress.ProgressReporter.update = slow_update
    elif hook == "pause-after-loop":
        from tinyclipnn.lab.demos import spirals

        plot = spirals._plot_regions

        def paused_plot(*a, **k):
            _ready(ready)
            time.sleep(2.0)
            return plot(*a, **k)

        spirals._plot_regions = paused_plot
    elif hook == "pause-in-metrics-save":
        from tinyclipnn.lab import metrics

        save = metrics.MetricsRecorder.save
        go = Path(str(ready) + ".go")

        def paused_save(self, *a, **k):
            if go.exists() and not ready.exists():
                _ready(ready)
                time.sleep(1.0)
            return save(self, *a, **k)

        metrics.MetricsRecorder.save = paused_save
    elif hook == "pause-in-plot":
        from tinyclipnn.lab import charlm

        plot = charlm.plot_traces

        def paused_plot(*a, **k):
            _ready(ready)
            time.sleep(1.5)
            return plot(*a, **k)

        charlm.plot_traces = paused_plot
    elif hook != "none":
        raise SystemExit(f"unknown hook {hook!r}")


def main() -> None:
    hook, ready, args = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    install(hook, ready)
    from tinyclipnn.cli import main as cli_main

    sys.exit(cli_main(args))


if __name__ == "__main__":
    main()
