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
 *             as ssqueezepy 0.6.6), find the nearest SSQ row
 *                 k = min(round(max((log2 w - lo) / step, 0)), n_rows - 1)
 *             (half-to-even; piecewise grids switch step above lo1; linear grids use w
 *             instead of log2 w) and accumulate Wx * weight into Tx.
 *
 * The row is computed from a polynomial estimate of log2(w); whenever that estimate is
 * within its error bound of a rounding boundary, the exact formula above (libm log2,
 * nearbyint) decides, so the result is the reference rule's. The torch implementation
 * in _kernels.py is the reference; tests check that both give the same numbers.
 *
 * Arguments are raw addresses of contiguous buffers owned by the caller (torch tensors
 * or NumPy arrays kept alive by the caller), each with the number of bytes it has from
 * that address on: a call whose rows would read or write past a buffer is refused
 * (ValueError) before any memory is touched. The GIL is released, so Python threads can
 * process different signals concurrently.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define TWO_PI 6.283185307179586
#define TILE 128

enum { KIND_LOG = 0, KIND_PIECEWISE = 1, KIND_LINEAR = 2 };

typedef struct {
    int kind;
    double lo0, step0, inv_step0, lo1, step1, inv_step1;
    long long first_fine, omax;
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
        k = (w - g->lo0) / g->step0;
        k = nearbyint(k > 0.0 ? k : 0.0);
    } else {
        double lw = log2(w);
        if (g->kind == KIND_PIECEWISE && lw > g->lo1) {
            k = nearbyint((lw - g->lo1) / g->step1) + (double)g->first_fine;
        } else {
            k = (lw - g->lo0) / g->step0;
            k = nearbyint(k > 0.0 ? k : 0.0);
        }
    }
    if (!(k > 0.0)) return 0;
    return k > (double)g->omax ? g->omax : (long long)k;
}

/* max(x, 0) then min(., hi) without branches; NaN -> 0. */
static inline double clamp_index(double x, double hi)
{
#if defined(__SSE2__)
    return _mm_cvtsd_f64(_mm_min_sd(_mm_max_sd(_mm_set_sd(x), _mm_setzero_pd()), _mm_set_sd(hi)));
#else
    x = x > 0.0 ? x : 0.0;
    return x < hi ? x : hi;
#endif
}

/* Row search without table lookups: an estimate of the rounding argument from the
   polynomial log2; if it is farther than the estimate's error bound from a rounding
   boundary (the usual case) its rounding is exact, otherwise (about 0.1-1 % of cells,
   and wherever a piecewise grid switches step) the reference arithmetic decides. */
#define LOG2_ERR 1e-4 /* > 3x the measured maximum error of approx_log2 */
static inline long long row_of(double w, const grid_t *g)
{
    double x, tol, near_switch = 0.0;
    if (g->kind == KIND_LINEAR) {
        x = (w - g->lo0) * g->inv_step0;
        tol = 1e-9;
    } else {
        const double lw = approx_log2(w);
        const double fine = (lw - g->lo1) * g->inv_step1 + (double)g->first_fine;
        const double coarse = (lw - g->lo0) * g->inv_step0;
        const int use_fine = g->kind == KIND_PIECEWISE && lw > g->lo1;
        x = use_fine ? fine : coarse; /* a select, not a blend: coarse may be huge */
        tol = LOG2_ERR * (use_fine ? g->inv_step1 : g->inv_step0);
        near_switch = (double)(g->kind == KIND_PIECEWISE && fabs(lw - g->lo1) < LOG2_ERR);
    }
    const double y = clamp_index(x + 0.5, (double)g->omax + 0.5);
    const long long k = (long long)y;
    const double f = y - (double)k;
    /* only values that are not clamped can sit near a rounding boundary */
    const int interior = x > -0.5 - tol && x < (double)g->omax + 0.5 + tol;
    if (__builtin_expect(interior && (f < tol || f > 1.0 - tol || near_switch != 0.0), 0))
        return exact_row(w, g);
    return k < g->omax ? k : g->omax;
}

/* ---- float32 fast row search, written for auto-vectorisation ------------------------
   For one tile of one row: the phase transform in float32 (the reference divides in
   double; the two differ by ~1e-7 relative, far inside the error bound below), a
   polynomial log2 from the float bits, the rounding argument and its clamped rounding.
   Cells whose argument is within FLOAT_TOL (in log2 units) of a rounding boundary or
   of the piecewise switch are flagged and re-decided with the reference arithmetic. */
#define FLOAT_TOL 1e-4f

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define MULTIVERSION
#endif

MULTIVERSION
static void rows_tile_f32(const float *wrow, const float *drow, long long m, float thr2,
                          const grid_t *g, int32_t *kbuf, int32_t *flag)
{
    const int piecewise = g->kind == KIND_PIECEWISE, linear = g->kind == KIND_LINEAR;
    const float lo0 = (float)g->lo0, lo1 = (float)g->lo1;
    const float inv0 = (float)g->inv_step0, inv1 = (float)g->inv_step1;
    const float ff = (float)g->first_fine, omax = (float)g->omax;
    const float tol0 = FLOAT_TOL * inv0, tol1 = FLOAT_TOL * inv1;
    for (long long j = 0; j < m; ++j) {
        const float a = wrow[2 * j], c = wrow[2 * j + 1];
        const float den = a * a + c * c;
        const float num = drow[2 * j + 1] * a - drow[2 * j] * c;
        const float w = fabsf(num) / (den * 6.2831855f);
        uint32_t bits;
        memcpy(&bits, &w, sizeof bits);
        const float e = (float)((int32_t)((bits >> 23) & 0xff) - 127);
        bits = (bits & 0x007fffffu) | 0x3f800000u;
        float mant;
        memcpy(&mant, &bits, sizeof mant);
        const float t = mant - 1.5f;
        const float lw = e + (((((0.04342891f * t - 0.07915037f) * t + 0.14184874f) * t -
                                0.31991936f) * t + 0.96181478f) * t + 0.58495428f);
        const int use_fine = piecewise & (lw > lo1);
        const float x_fine = (lw - lo1) * inv1 + ff, x_coarse = (lw - lo0) * inv0;
        const float x_lin = (w - lo0) * inv0;
        const float xl = use_fine ? x_fine : x_coarse;
        const float x = linear ? x_lin : xl;
        const float tol_log = use_fine ? tol1 : tol0;
        /* linear grids: the float32 w carries ~1e-7 * w / step rows of error (up to
           ~1e-4 row with hundreds of rows); 1e-3 row leaves a wide margin */
        const float tol = linear ? 1e-3f : tol_log;
        float y = x + 0.5f;
        y = y > 0.0f ? y : 0.0f;
        y = y < omax ? y : omax;
        const int32_t k = (int32_t)y;
        const float f = y - (float)k;
        const int interior = (x > -0.5f - tol) & (x < omax + 0.5f + tol);
        const int near = (f < tol) | (f > 1.0f - tol) |
                         (piecewise & (fabsf(lw - lo1) < FLOAT_TOL));
        const int valid = den > thr2;
        kbuf[j] = valid ? k : -1;
        flag[j] = valid & interior & near;
    }
}

#define DEFINE_MODULATE(SUFFIX, REAL)                                                    \
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
}

DEFINE_MODULATE(f32, float)
DEFINE_MODULATE(f64, double)

/* Scatter one tile of one row into Tx (rows found beforehand; -1 = below threshold). */
#define ACCUMULATE(REAL)                                                                 \
    do {                                                                                 \
        const REAL wt = weights[i];                                                     \
        REAL *tcol = tx + 2 * j0;                                                       \
        for (long long j = 0; j < m; ++j) {                                             \
            const long long k = kbuf[j];                                                \
            if (k < 0) continue;                                                        \
            REAL *cell = tcol + 2 * (k * n + j);                                        \
            cell[0] += wrow[2 * j] * wt;                                                \
            cell[1] += wrow[2 * j + 1] * wt;                                            \
        }                                                                                \
    } while (0)

/* Column tiles keep the scattered Tx updates inside (n_rows x TILE) cells; within a
   tile, each row's target rows are found first (independent iterations), then added. */
static void squeeze_f64(const double *wx, const double *dwx, double *out_wx, double *tx,
                        const double *weights, long long rows, long long n_pad,
                        long long n_left, long long n, double thr2, const grid_t *g)
{
    long long kbuf[TILE];
    if (out_wx) /* NULL: the caller wants Tx only */
        for (long long i = 0; i < rows; ++i)
            memcpy(out_wx + 2 * i * n, wx + 2 * (i * n_pad + n_left),
                   sizeof(double) * 2 * n);
    for (long long j0 = 0; j0 < n; j0 += TILE) {
        const long long m = (j0 + TILE < n ? j0 + TILE : n) - j0;
        for (long long i = 0; i < rows; ++i) {
            const double *wrow = wx + 2 * (i * n_pad + n_left + j0);
            const double *drow = dwx + 2 * (i * n_pad + n_left + j0);
            for (long long j = 0; j < m; ++j) {
                const double a = wrow[2 * j], c = wrow[2 * j + 1];
                const double den = a * a + c * c;
                const double num = drow[2 * j + 1] * a - drow[2 * j] * c;
                kbuf[j] = den > thr2 ? row_of(fabs(num / (den * TWO_PI)), g) : -1;
            }
            ACCUMULATE(double);
        }
    }
}

static void squeeze_f32(const float *wx, const float *dwx, float *out_wx, float *tx,
                        const float *weights, long long rows, long long n_pad,
                        long long n_left, long long n, double thr2, const grid_t *g)
{
    int32_t kbuf[TILE], flag[TILE];
    const float thr2f = (float)thr2;
    if (out_wx) /* NULL: the caller wants Tx only */
        for (long long i = 0; i < rows; ++i)
            memcpy(out_wx + 2 * i * n, wx + 2 * (i * n_pad + n_left),
                   sizeof(float) * 2 * n);
    for (long long j0 = 0; j0 < n; j0 += TILE) {
        const long long m = (j0 + TILE < n ? j0 + TILE : n) - j0;
        for (long long i = 0; i < rows; ++i) {
            const float *wrow = wx + 2 * (i * n_pad + n_left + j0);
            const float *drow = dwx + 2 * (i * n_pad + n_left + j0);
            rows_tile_f32(wrow, drow, m, thr2f, g, kbuf, flag);
            for (long long j = 0; j < m; ++j) {
                if (__builtin_expect(flag[j], 0)) { /* reference arithmetic (double) */
                    const float a = wrow[2 * j], c = wrow[2 * j + 1];
                    const float den = a * a + c * c;
                    const float num = drow[2 * j + 1] * a - drow[2 * j] * c;
                    kbuf[j] = (int32_t)exact_row(fabs((double)num / ((double)den * TWO_PI)),
                                                 g);
                }
            }
            ACCUMULATE(float);
        }
    }
}

#define PTR(T, p) ((T *)(uintptr_t)(p))

/* Whether `count` items of `item` bytes fit in the `avail` bytes a buffer has from its
   pointer on (negative counts and overflowing products do not). */
static int fits(unsigned long long avail, long long count, size_t item)
{
    return count >= 0 && (unsigned long long)count <= avail / item;
}

static PyObject *py_modulate(PyObject *self, PyObject *args)
{
    unsigned long long p_xh, p_psih, p_deriv, p_a, p_d;
    unsigned long long n_xh, n_psih, n_deriv, n_a, n_d; /* bytes each buffer has */
    long long rows, n_pad, n_pos;
    int is_double;
    if (!PyArg_ParseTuple(args, "KKKKKKKKKKLLLp", &p_xh, &n_xh, &p_psih, &n_psih, &p_deriv,
                          &n_deriv, &p_a, &n_a, &p_d, &n_d, &rows, &n_pad, &n_pos,
                          &is_double))
        return NULL;
    if (rows < 0 || n_pad < 1 || n_pos < 1 || n_pos > n_pad || !p_xh || !p_psih || !p_a ||
        (p_d && !p_deriv)) {
        PyErr_SetString(PyExc_ValueError, "_squeeze.modulate: inconsistent arguments");
        return NULL;
    }
    /* every read and write below stays inside the buffers the caller described */
    const size_t real = is_double ? sizeof(double) : sizeof(float);
    /* sizes below 2^31 are checked first, so the products after them cannot overflow */
    if (n_pad > (1LL << 31) || rows > (1LL << 31) || !fits(n_xh, 2 * n_pos, real) ||
        !fits(n_psih, rows ? (rows - 1) * n_pad + n_pos : 0, real) ||
        !fits(n_a, 2 * rows * n_pad, real) ||
        (p_d && (!fits(n_d, 2 * rows * n_pad, real) || !fits(n_deriv, 2 * n_pos, real)))) {
        PyErr_Format(PyExc_ValueError,
                     "_squeeze.modulate: buffers too small for %lld rows of %lld bins "
                     "(bytes: xh %llu, psih %llu, deriv %llu, a %llu, d %llu)",
                     rows, n_pad, n_xh, n_psih, n_deriv, n_a, n_d);
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
    unsigned long long p_wx, p_dwx, p_out, p_tx, p_w;
    unsigned long long n_wx, n_dwx, n_out, n_tx, n_w; /* bytes each buffer has */
    long long rows, n_pad, n_left, n, first_fine, n_rows_total;
    double thr, lo0, step0, lo1, step1;
    int is_double, kind;
    if (!PyArg_ParseTuple(args, "KKKKKKKKKKLLLLLdipddddL", &p_wx, &n_wx, &p_dwx, &n_dwx,
                          &p_out, &n_out, &p_tx, &n_tx, &p_w, &n_w, &rows, &n_pad, &n_left,
                          &n, &n_rows_total, &thr, &kind, &is_double, &lo0, &step0, &lo1,
                          &step1, &first_fine))
        return NULL;
    if (rows < 0 || n_rows_total < 1 || n < 1 || n_left < 0 || n_left + n > n_pad ||
        kind < 0 || kind > 2 || step0 <= 0 || step1 <= 0 || !p_wx || !p_dwx || !p_tx ||
        !p_w) {
        PyErr_SetString(PyExc_ValueError, "_squeeze.squeeze: inconsistent arguments");
        return NULL;
    }
    const size_t real = is_double ? sizeof(double) : sizeof(float);
    if (n_pad > (1LL << 31) || rows > (1LL << 31) || n_rows_total > (1LL << 31) ||
        !fits(n_wx, 2 * rows * n_pad, real) || !fits(n_dwx, 2 * rows * n_pad, real) ||
        (p_out && !fits(n_out, 2 * rows * n, real)) ||
        !fits(n_tx, 2 * n_rows_total * n, real) || !fits(n_w, rows, real)) {
        PyErr_Format(PyExc_ValueError,
                     "_squeeze.squeeze: buffers too small for %lld rows of %lld bins into "
                     "%lld x %lld (bytes: wx %llu, dwx %llu, out %llu, tx %llu, weights %llu)",
                     rows, n_pad, n_rows_total, n, n_wx, n_dwx, n_out, n_tx, n_w);
        return NULL;
    }
    grid_t g = {kind, lo0, step0, 1.0 / step0, lo1, step1, 1.0 / step1, first_fine,
                n_rows_total - 1};
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
     "Copy Wx out (unless its pointer is 0) and accumulate the synchrosqueezed rows of one "
     "block into Tx."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_squeeze",
                                    "Compiled kernels of the CPU fast path.", -1, methods};

PyMODINIT_FUNC PyInit__squeeze(void) { return PyModule_Create(&module); }
