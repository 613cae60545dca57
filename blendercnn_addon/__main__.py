"""``python -m blendercnn_addon COMMAND ...`` — see :mod:`blendercnn_addon.cli`."""

import sys

from .cli import main

sys.exit(main())
