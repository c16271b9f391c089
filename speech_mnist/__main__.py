import sys

from .cli import main

if __name__ == "__main__":  # not in worker processes, which import this module too
    sys.exit(main())
