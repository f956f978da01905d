import sys

from lambdarouter.cli import main

sys.exit(main())
