"""The commented pipeline file: a ``pipeline.toml`` to start from, every option explained.

:func:`pipeline_template` returns the text of a pipeline file that describes a common
recipe (``ssqueezepy.ssq_cwt`` -> ``|Tx|`` -> ``log1p`` -> a scikit-image resize ->
min-max -> a colormap -> 8 bits) with a comment on each key: the transform's options in
ssqueezepy's words, the row order, the x axis and every kind of step. The text is data
only; :func:`~saliency2signal.pipeline.load_pipeline` checks it like any other file.

Internal to :mod:`saliency2signal.pipeline`, which re-exports :func:`pipeline_template`.
May import: nothing of the package (its example reads the template through the public
:mod:`saliency2signal.pipeline`); never ``._file``, which reads such files.
"""

from __future__ import annotations

__all__ = ["pipeline_template"]


def pipeline_template() -> str:
    """Return a commented ``pipeline.toml`` to start from: every option explained.

    It describes ``ssqueezepy.ssq_cwt(x, wavelet="gmw", nv=64)`` -> ``|Tx|`` ->
    ``log1p`` -> a 128 x 128 scikit-image resize with anti-aliasing -> min-max ->
    viridis -> 8 bits, for two placeholder classes;
    :func:`~saliency2signal.pipeline.load_pipeline` reads it.

    Examples
    --------
    >>> from saliency2signal.pipeline import Pipeline
    >>> p = Pipeline.from_toml(pipeline_template())
    >>> [step.kind for step in p.steps]
    ['log1p', 'resize', 'minmax', 'colormap', 'quantize_uint8']
    """
    return _TEMPLATE


_TEMPLATE = """\
# saliency2signal pipeline file: how your CNN's input images were made from your signals.
#
# Read by saliency2signal.pipeline.load_pipeline. Every key is checked: a key this format
# does not know is refused, and so is an ssqueezepy option that saliency2signal's transform
# cannot reproduce. TOML has no null: leave an optional key out to mean "none".
#
# This example describes the Python code
#
#   Tx, *_ = ssqueezepy.ssq_cwt(x, wavelet="gmw", nv=64)        # highest frequency in row 0
#   img = np.log1p(np.abs(Tx))
#   img = skimage.transform.resize(img, (128, 128), order=1, anti_aliasing=True)
#   img = (img - img.min()) / (img.max() - img.min())
#   rgb = matplotlib.colormaps["viridis"](img)[..., :3]
#   rgb = (rgb * 255).astype(np.uint8)    # a PNG; the CNN reads rgb / 255

version = 1  # of this file format

# What the CNN answers.
#   task = "classification": class_names, one name per output in the model's output
#          order (at least 2, distinct).
#   task = "regression": no class_names; optionally output_names = ["caffeine"] and
#          output_units = ["mg/g"] (one unit per name).
task = "classification"
class_names = ["class_0", "class_1"]  # replace with your classes

# The signal length the CNN was trained on (optional; signals are checked against it).
# n_times = 1024

[transform]
# The synchrosqueezed CWT, in the words of ssqueezepy.ssq_cwt's keyword arguments (0.6.6).
# wavelet: "gmw" (generalised Morse; ssqueezepy's default, gamma = 3, beta = 60) or
#   ["gmw", {gamma = 3.0, beta = 60.0}]; "morlet" or ["morlet", {mu = 13.4}] (mu >= 3).
#   Another wavelet option is dtype = "float32" or "float64", the precision ssqueezepy
#   computed in (float32 unless you asked otherwise: its configs.ini). Left out, the
#   transform follows the signals' dtype; the two differ by float32 rounding.
#   gmw's norm (only "bandpass"), order (only 0) and centered_scale (only false) may be
#   given at those values. "bump", "cmhat" and "hhhat" are not supported.
wavelet = "gmw"
# nv: voices per octave (default 32).
nv = 64
# scales: "log-piecewise" (default), "log" or "linear", optionally with ":maximal",
#   ":minimal" or ":naive" (bare "log-piecewise" is maximal, bare "log" and "linear"
#   minimal), or an ascending list of scales.
scales = "log-piecewise"
# fs: sampling rate; frequencies are in cycles per unit of 1 / fs (default 1).
fs = 1.0
# padtype: "reflect" (default), "symmetric", "replicate", "wrap", "zero" or "none".
padtype = "reflect"
# squeezing: "sum" (default: complex Wx) or "abs" (|Wx|); "lebesgue" is not supported.
squeezing = "sum"
# maprange: "peak" (default), "energy", "maximal" or [fmin, fmax] (units of fs);
#   "maximal" and [fmin, fmax] need scales other than "log-piecewise".
maprange = "peak"
# gamma: ssqueezepy's name for the squeezing THRESHOLD (the GMW's gamma goes in the
#   wavelet options): cells with |Wx| below it are not reassigned. Left out: 10 times the
#   machine epsilon of the working dtype, as in ssqueezepy.
# gamma = 1e-8
# row_order: the order of the rows of |Tx| your imaging received.
#   "ssqueezepy": highest frequency in row 0, as ssqueezepy.ssq_cwt returns Tx (flipud =
#                 true, its default); shown with imshow, the top row is the highest.
#   "low_first":  lowest frequency in row 0 (ssq_cwt(..., flipud=False) or np.flipud(Tx)).
#   flipud = true or false may be given instead, as in your ssq_cwt call.
row_order = "ssqueezepy"
# Refused: t (give fs), ssq_freqs, difftype (only "trig"), difforder, order (only 0),
# and options that do not change Tx (vectorized, astensor, nan_checks, ...).

# The x axis of your signals (optional): values = [...] (one per sample), or start and
# step; name and units label plots and reports.
# [axis]
# start = 400.0
# step = 2.0
# name = "wavelength"
# units = "nm"

# The imaging: steps applied in order to |Tx| (rows in row_order) as a one-channel image
# (1, F, N). Each [[steps]] table has a kind and that kind's fields (defaults shown):
#   power             exponent = 2.0               v ** exponent
#   log1p             gain = 1.0                   log(1 + gain * v)
#   log               eps = 1e-10                  ln(v + eps)
#   log10             eps = 1e-10                  log10(v + eps)
#   db                multiplier = 10.0 (20.0 for a magnitude), reference = "max" or a
#                     number, amin = 1e-10, top_db (optional): decibels as librosa's
#                     power_to_db / torchaudio's AmplitudeToDB
#   minmax                                         each image to [0, 1]
#   standardize       ddof = 0                     each image to mean 0, std 1
#   fixed_range       lo, hi, clip = false         (v - lo) / (hi - lo)
#   mean_std          mean, std                    (v - mean) / std, dataset statistics
#   channel_mean_std  mean = [...], std = [...]    per channel, after colormap/channels
#   resize            size = [height, width]; method = "bilinear", "bicubic", "nearest"
#                     or "area"; antialias = "none" (torch's interpolate), "skimage"
#                     (skimage.transform.resize(anti_aliasing=True)), "pil"
#                     (PIL.Image.resize) or "torch" (interpolate(antialias=True));
#                     mode: skimage's edge handling ("reflect", "symmetric", "edge",
#                     "wrap")
#   flip_rows                                      reverse the rows
#   crop              top, left, height, width     in pixels
#   pad               top, bottom, left, right = 0; mode = "constant", "edge" or
#                     "reflect"; value = 0.0
#   colormap          name (a matplotlib colormap), interpolate = false
#   channels          n_channels = 3               repeat a grey channel
#   quantize_uint8    rounding = "round"           the 8-bit round trip of a PNG
#                     ("floor": (v * 255).astype(np.uint8))

[[steps]]
kind = "log1p"
gain = 1.0

[[steps]]
kind = "resize"
size = [128, 128]
method = "bilinear"  # skimage's order=1
antialias = "skimage"

[[steps]]
kind = "minmax"

[[steps]]
kind = "colormap"
name = "viridis"

[[steps]]
kind = "quantize_uint8"
rounding = "floor"  # (rgb * 255).astype(np.uint8)
"""
