"""``python -m graphrep`` = the ``graphrep`` console script."""
from graphrep.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
