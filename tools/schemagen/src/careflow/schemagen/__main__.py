"""``python -m careflow.schemagen [--check] [--root DIR]``."""

import sys

from .generate import main

sys.exit(main())
