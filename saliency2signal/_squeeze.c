/*
 * Compiled kernels for the CPU fast path of saliency2signal.transform.
 *
 * The transform of one signal is computed block of rows by block of rows so that the
 * padded coefficients stay in cache between the three steps:
 *   modulate: a = x_hat * psi_hat (one-sided for analytic wavelets), d = a * i xi fs;
 *   (inverse FFTs of a and d, done by scipy.fft in Python, GIL released);
 *   squeeze:  copy the unpadded Wx out, form the phase transform
 *                 w = |Im(conj(Wx) dWx)| / (2 pi |Wx|^2)
 *             (numerator and denominator in the working precision, division in double,
 *             as ssqueezepy 0.6.6), find the SSQ row whose decision interval
 *             [edges[k-1], edges[k]) holds w, and accumulate Wx * weight into Tx.
 *
 * The row search starts from a polynomial estimate of log2(w) and is corrected by
 * comparisons with the exact interval edges (computed in Python from ssqueezepy's
 * nearest-bin rule), so it agrees with `round((log2 w - lo) / step)` except for w within
 * a few ulps of an edge. The torch implementation in _kernels.py is the reference;
 * tests check that both give the same numbers.
 *
 * Arguments are raw addresses of contiguous buffers owned by the caller (torch tensors
 * or NumPy arrays kept alive by the caller). The GIL is released, so Python threads can
 * process different signals concurrently.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define TWO_PI 6.283185307179586
#define TILE 64

enum { KIND_LOG = 0, KIND_PIECEWISE = 1, KIND_LINEAR = 2 };

typedef struct {
    int kind;
    double lo0, inv_step0, lo1, inv_step1;
    long long first_fine, omax;
    const double *edges; /* omax interior edges: edges[k] separates rows k and k+1 */
} grid_t;

/* log2 estimate with |error| < 4e-5 for positive normal doubles (exponent + quintic). */
static inline double approx_log2(double w)
{
    union { double d; uint64_t u; } v = {w};
    double e = (double)((int)((v.u >> 52) & 0x7ff) - 1023);
    v.u = (v.u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
    double t = v.d - 1.5;
    double p = ((((0.04342891 * t - 0.07915037) * t + 0.14184874) * t - 0.31991936) * t +
                0.96181478) * t + 0.58495428;
    return e + p;
}

/* ssqueezepy's rule verbatim: nearest row in log2 (or linear) units, half-to-even. */
static long long exact_row(double w, const grid_t *g)
{
    double k;
    if (g->kind == KIND_LINEAR) {
        k = (w - g->lo0) * g->inv_step0;
        k = nearbyint(k > 0.0 ? k : 0.0);
    } else {
        double lw = log2(w);
        if (g->kind == KIND_PIECEWISE && lw > g->lo1) {
            k = nearbyint((lw - g->lo1) * g->inv_step1) + (double)g->first_fine;
        } else {
            k = (lw - g->lo0) * g->inv_step0;
            k = nearbyint(k > 0.0 ? k : 0.0);
        }
    }
    if (!(k > 0.0)) return 0;
    return k > (double)g->omax ? g->omax : (long long)k;
}

static inline long long row_of(double w, const grid_t *g)
{
    double kf;
    if (g->kind == KIND_LINEAR) {
        kf = (w - g->lo0) * g->inv_step0;
    } else {
        double lw = approx_log2(w);
        kf = lw > g->lo1 ? (lw - g->lo1) * g->inv_step1 + (double)g->first_fine
                         : (lw - g->lo0) * g->inv_step0;
    }
    long long k;
    if (!(kf > 0.0)) k = 0;  /* also catches NaN */
    else if (kf >= (double)g->omax) k = g->omax;
    else k = (long long)(kf + 0.5);
    while (k < g->omax && w >= g->edges[k]) ++k;
    while (k > 0 && w < g->edges[k - 1]) --k;
    /* within rounding distance of an edge (exact ties happen, e.g. a pure DFT tone):
       decide with the reference arithmetic */
    if ((k < g->omax && w >= g->edges[k] * (1.0 - 1e-12)) ||
        (k > 0 && w <= g->edges[k - 1] * (1.0 + 1e-12)))
        k = exact_row(w, g);
    return k;
}

#define DEFINE_KERNELS(SUFFIX, REAL)                                                     \
static void modulate_##SUFFIX(const REAL *xh, const REAL *psih, const REAL *deriv,      \
                              REAL *a, REAL *d, long long rows, long long n_pad,        \
                              long long n_pos)                                          \
{                                                                                        \
    for (long long r = 0; r < rows; ++r) {                                              \
        const REAL *ps = psih + r * n_pad;                                              \
        REAL *ar = a + 2 * r * n_pad;                                                   \
        REAL *dr = d ? d + 2 * r * n_pad : NULL;                                        \
        for (long long k = 0; k < n_pos; ++k) {                                         \
            const REAL re = xh[2 * k] * ps[k], im = xh[2 * k + 1] * ps[k];              \
            ar[2 * k] = re;                                                             \
            ar[2 * k + 1] = im;                                                         \
            if (dr) {                                                                   \
                const REAL dre = deriv[2 * k], dim = deriv[2 * k + 1];                  \
                dr[2 * k] = re * dre - im * dim;                                        \
                dr[2 * k + 1] = re * dim + im * dre;                                    \
            }                                                                            \
        }                                                                                \
        if (n_pos < n_pad) {                                                            \
            memset(ar + 2 * n_pos, 0, sizeof(REAL) * 2 * (n_pad - n_pos));              \
            if (dr) memset(dr + 2 * n_pos, 0, sizeof(REAL) * 2 * (n_pad - n_pos));      \
        }                                                                                \
    }                                                                                    \
}                                                                                        \
                                                                                         \
static void squeeze_##SUFFIX(const REAL *wx, const REAL *dwx, REAL *out_wx, REAL *tx,   \
                             const REAL *weights, long long rows, long long n_pad,      \
                             long long n_left, long long n, double thr2,                \
                             const grid_t *g)                                           \
{                                                                                        \
    for (long long i = 0; i < rows; ++i)                                                \
        memcpy(out_wx + 2 * i * n, wx + 2 * (i * n_pad + n_left), sizeof(REAL) * 2 * n);\
    /* column tiles keep the scattered Tx updates inside (n_rows x TILE) cells */       \
    for (long long j0 = 0; j0 < n; j0 += TILE) {                                        \
        const long long j1 = j0 + TILE < n ? j0 + TILE : n;                             \
        for (long long i = 0; i < rows; ++i) {                                          \
            const REAL *wrow = wx + 2 * (i * n_pad + n_left);                           \
            const REAL *drow = dwx + 2 * (i * n_pad + n_left);                          \
            const REAL wt = weights[i];                                                 \
            for (long long j = j0; j < j1; ++j) {                                       \
                const REAL a = wrow[2 * j], c = wrow[2 * j + 1];                        \
                if (!((double)a * a + (double)c * c > thr2)) continue;                  \
                const REAL den = a * a + c * c;                                         \
                const REAL num = drow[2 * j + 1] * a - drow[2 * j] * c;                 \
                const double w = fabs((double)num / ((double)den * TWO_PI));            \
                REAL *cell = tx + 2 * (row_of(w, g) * n + j);                           \
                cell[0] += a * wt;                                                      \
                cell[1] += c * wt;                                                      \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
}

DEFINE_KERNELS(f32, float)
DEFINE_KERNELS(f64, double)

#define PTR(T, p) ((T *)(uintptr_t)(p))

static PyObject *py_modulate(PyObject *self, PyObject *args)
{
    unsigned long long p_xh, p_psih, p_deriv, p_a, p_d;
    long long rows, n_pad, n_pos;
    int is_double;
    if (!PyArg_ParseTuple(args, "KKKKKLLLp", &p_xh, &p_psih, &p_deriv, &p_a, &p_d, &rows,
                          &n_pad, &n_pos, &is_double))
        return NULL;
    if (rows < 0 || n_pad < 1 || n_pos < 1 || n_pos > n_pad || !p_xh || !p_psih || !p_a ||
        (p_d && !p_deriv)) {
        PyErr_SetString(PyExc_ValueError, "_squeeze.modulate: inconsistent arguments");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    if (is_double)
        modulate_f64(PTR(const double, p_xh), PTR(const double, p_psih),
                     PTR(const double, p_deriv), PTR(double, p_a), PTR(double, p_d), rows,
                     n_pad, n_pos);
    else
        modulate_f32(PTR(const float, p_xh), PTR(const float, p_psih),
                     PTR(const float, p_deriv), PTR(float, p_a), PTR(float, p_d), rows,
                     n_pad, n_pos);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_squeeze(PyObject *self, PyObject *args)
{
    unsigned long long p_wx, p_dwx, p_out, p_tx, p_w, p_edges;
    long long rows, n_pad, n_left, n, first_fine, n_rows_total;
    double thr, lo0, step0, lo1, step1;
    int is_double, kind;
    if (!PyArg_ParseTuple(args, "KKKKKKLLLLLdipddddL", &p_wx, &p_dwx, &p_out, &p_tx, &p_w,
                          &p_edges, &rows, &n_pad, &n_left, &n, &n_rows_total, &thr, &kind,
                          &is_double, &lo0, &step0, &lo1, &step1, &first_fine))
        return NULL;
    if (rows < 0 || n_rows_total < 1 || n < 1 || n_left < 0 || n_left + n > n_pad ||
        kind < 0 || kind > 2 || step0 <= 0 || step1 <= 0 || !p_wx || !p_dwx || !p_out ||
        !p_tx || !p_w || (n_rows_total > 1 && !p_edges)) {
        PyErr_SetString(PyExc_ValueError, "_squeeze.squeeze: inconsistent arguments");
        return NULL;
    }
    grid_t g = {kind, lo0, 1.0 / step0, lo1, 1.0 / step1, first_fine, n_rows_total - 1,
                PTR(const double, p_edges)};
    const double thr2 = thr * thr;
    Py_BEGIN_ALLOW_THREADS
    if (is_double)
        squeeze_f64(PTR(const double, p_wx), PTR(const double, p_dwx), PTR(double, p_out),
                    PTR(double, p_tx), PTR(const double, p_w), rows, n_pad, n_left, n, thr2,
                    &g);
    else
        squeeze_f32(PTR(const float, p_wx), PTR(const float, p_dwx), PTR(float, p_out),
                    PTR(float, p_tx), PTR(const float, p_w), rows, n_pad, n_left, n, thr2,
                    &g);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"modulate", py_modulate, METH_VARARGS,
     "a = xh * psih (rows), d = a * deriv; zero above n_pos."},
    {"squeeze", py_squeeze, METH_VARARGS,
     "Copy Wx out and accumulate the synchrosqueezed rows of one block into Tx."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_squeeze",
                                    "Compiled kernels of the CPU fast path.", -1, methods};

PyMODINIT_FUNC PyInit__squeeze(void) { return PyModule_Create(&module); }
