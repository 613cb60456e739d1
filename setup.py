"""Build the optional C kernel; all metadata lives in pyproject.toml.

If the compiler is missing the package still installs and uses its pure-torch path
(``saliency2signal._kernels.HAVE_EXTENSION`` tells which one runs).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "saliency2signal._squeeze",
            sources=["saliency2signal/_squeeze.c"],
            # no FP traps are relied on; lets GCC if-convert and vectorise the row search
            extra_compile_args=["-O3", "-fno-trapping-math"],
            optional=True,
        )
    ]
)
