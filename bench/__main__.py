"""``python -m bench``: the whole harness (``--help`` for its options)."""

from bench.run import main

raise SystemExit(main())
