"""`python -m symnn`: the same as the `symnn` command."""

from symnn.cli import main

raise SystemExit(main())
