import sys

from lambdarouter.admin.cli import main

sys.exit(main())
