"""python -m healthsearch → the command line."""

from .cli import main

raise SystemExit(main())
