from healthsearch.cli import build_main

raise SystemExit(build_main())
