"""``python -m saliency2signal.cli``: the console script.

May import: ``saliency2signal.cli``.
"""

import sys

from . import main

sys.exit(main())
