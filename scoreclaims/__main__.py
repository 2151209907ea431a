"""``python -m scoreclaims``: the same command as the ``scoreclaims`` console script."""

import sys

from scoreclaims.claims.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
