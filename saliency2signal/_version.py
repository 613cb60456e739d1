"""The package version, in one place: ``pyproject.toml`` reads it from here.

May import: nothing.
"""

__version__ = "0.1.0"
