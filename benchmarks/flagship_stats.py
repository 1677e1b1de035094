"""Per-seed statistics of a flagship run (``tinyclipnn demo exploding --out DIR``) from its
sweep's ``results.json``: each seed's test errors, the plain runs' gradient norms (share of
steps above the clip threshold, median, largest spike) and the step at which each clipped run's
training loss first fell below 0.1. The docs' reproduction page quotes these per CPU.

    python benchmarks/flagship_stats.py runs/exploding
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def stats(folder: Path) -> list[str]:
    doc = json.loads((folder / "sweep" / "results.json").read_text())
    rows = doc["rows"] if isinstance(doc, dict) else doc
    by = {m: sorted((r for r in rows if r["method"] == m), key=lambda r: r["seed"])
          for m in ("plain SGD", "SGD + clip")}
    plain, clip = by["plain SGD"], by["SGD + clip"]
    lines = ["seed  plain error  clipped error  plain: steps > 1, median, max norm  "
             "clipped: max norm, first step with loss < 0.1"]
    for p, c in zip(plain, clip, strict=True):
        pn, cn, cl = (np.asarray(x, float) for x in (p["norm"], c["norm"], c["loss"]))
        first = int(np.argmax(cl < 0.1)) if (cl < 0.1).any() else None
        lines.append(f"{p['seed']:>4}  {100 * p['error']:10.1f}%  {100 * c['error']:12.1f}%  "
                     f"{100 * (pn > 1).mean():5.0f}%, {np.median(pn):.2f}, {pn.max():.1f}"
                     f"{'':18}{cn.max():.1f}, {first}")
    pe = [100 * r["error"] for r in plain]
    spikes = [max(r["norm"]) for r in plain]
    above = [100 * (np.asarray(r["norm"]) > 1).mean() for r in plain]
    med = [float(np.median(r["norm"])) for r in plain]
    firsts = [int(np.argmax(np.asarray(r["loss"]) < 0.1)) for r in clip
              if (np.asarray(r["loss"]) < 0.1).any()]
    lines += [f"clipped runs solved: {sum(r['solved'] for r in clip)} of {len(clip)}",
              f"plain error: {min(pe):.1f}-{max(pe):.1f}%",
              f"plain steps above the threshold: {min(above):.0f}-{max(above):.0f}%, "
              f"median norm {min(med):.2f}-{max(med):.2f}, spikes {min(spikes):.1f}-{max(spikes):.1f}",
              f"clipped: largest norm before clipping {max(max(r['norm']) for r in clip):.1f}; "
              f"loss below 0.1 from step {min(firsts)}-{max(firsts)}"]
    return lines


if __name__ == "__main__":
    print("\n".join(stats(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/exploding"))))
