from zoomstate.cli import main

raise SystemExit(main())
