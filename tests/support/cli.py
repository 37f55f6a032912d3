"""`racelab` as a subprocess, as users and CI call it, and the result folder it wrote (the virtual-time tests).

done = racelab("run", scenario, "--mode", "virtual", "--out", tmp_path)
folder = only_result(tmp_path)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def racelab(*args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run `racelab ARGS` from the repository root; wide output so lines are not wrapped."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def only_result(root: Path) -> Path:
    """The one result folder a run wrote under `root`."""
    (folder,) = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink()]
    return folder
