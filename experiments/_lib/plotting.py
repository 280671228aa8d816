"""One matplotlib style for every figure: paper-sized, readable, colour-blind-safe (Okabe-Ito)."""

from __future__ import annotations

import contextlib
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Okabe & Ito (2008) palette, safe for the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.5,
    "lines.markersize": 4,
    "legend.frameon": False,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "pdf.fonttype": 42,
}


@contextlib.contextmanager
def style():
    with matplotlib.rc_context(STYLE):
        yield


def savefig(fig, out_dir: pathlib.Path | str, name: str, *, pdf: bool = True) -> list[str]:
    """Writes fig_<name>.png (and .pdf for papers); returns the file names written."""
    out_dir = pathlib.Path(out_dir)
    written = []
    for ext in ("png", "pdf") if pdf else ("png",):
        path = out_dir / f"fig_{name}.{ext}"
        fig.savefig(path, metadata={"CreationDate": None} if ext == "pdf" else None)
        written.append(path.name)
    plt.close(fig)
    return written


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def marker(i: int) -> str:
    return MARKERS[i % len(MARKERS)]
