from benchmarks.tofu.driver import main

raise SystemExit(main())
