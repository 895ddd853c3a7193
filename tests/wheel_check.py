"""Checks run inside a fresh virtual environment holding only the built wheel and its core dependencies.

Used by ``make wheel-check`` (see the Makefile): ``venv/bin/python tests/wheel_check.py``. Importing this file
does nothing (pytest's doctest collection imports it).
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

CORE = {"torch", "numpy", "scipy"}
LAB = ("matplotlib", "tqdm", "sklearn", "mlxtend", "edt", "markdown_it")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(dist: str) -> set[str]:
    """Normalized names of ``dist``'s core (non-extra) requirements."""
    names = set()
    for req in md.requires(dist) or []:
        if "extra ==" not in req:
            names.add(_norm(re.match(r"\s*([A-Za-z0-9._-]+)", req)[1]))
    return names


def main() -> int:
    import torch

    import losslab

    where = Path(losslab.__file__).resolve()
    assert "site-packages" in where.parts, f"losslab imported from {where}, not from the installed wheel"
    assert _requirements("losslab") == CORE, _requirements("losslab")
    installed = {_norm(d.metadata["Name"]) for d in md.distributions()}
    # only losslab, the three core packages and what they pull in themselves
    allowed = {"losslab", *CORE, "pip", "setuptools"}
    for name in CORE:
        allowed |= _requirements(name)
    allowed |= {r for name in list(allowed) if name in installed for r in _requirements(name)}
    extra = installed - allowed
    assert not extra, f"unexpected distributions in the fresh venv: {sorted(extra)}"
    missing_lab = [m for m in LAB if importlib.util.find_spec(m) is None]
    assert missing_lab == list(LAB), f"lab packages present: {set(LAB) - set(missing_lab)}"
    assert (where.parent / "py.typed").is_file(), "py.typed is not in the wheel"
    assert md.metadata("losslab")["License-Expression"] == "Apache-2.0"
    assert "Typing :: Typed" in md.metadata("losslab").get_all("Classifier")

    # the library works: a loss, its module, the catalogue, a distance map (scipy backend, edt is lab-only)
    logits, target = torch.randn(4, 3, requires_grad=True), torch.tensor([0, 2, 1, 2])
    loss = losslab.softmax_cross_entropy(logits, target)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    labels = torch.zeros(1, 5, 5, dtype=torch.long)
    labels[0, 1:4, 1:4] = 1
    assert losslab.signed_distance_map(labels, num_classes=2)[0, 1, 2, 2].item() == -1.0

    # the console script: list works; plot names the missing extra instead of a traceback
    script = Path(sys.executable).with_name("losslab")
    out = subprocess.run([script, "list"], capture_output=True, text=True, check=True).stdout
    assert "softmax_cross_entropy" in out
    r = subprocess.run([script, "plot", "mse_loss"], capture_output=True, text=True)
    assert r.returncode == 1 and "pip install 'losslab[lab]'" in r.stderr and "Traceback" not in r.stderr, r.stderr
    print(f"wheel check: losslab {losslab.__version__} from {where.parent} with {len(installed)} distributions "
          f"({', '.join(sorted(CORE))} and their dependencies); import, a loss, the CLI and the lab-extra hint work")
    return 0


if __name__ == "__main__":
    sys.exit(main())
