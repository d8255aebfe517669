import sys

from xero_soak.run import main

sys.exit(main())
