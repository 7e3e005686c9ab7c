"""Allow `python -m stethoscope_desktop`."""

from stethoscope_desktop.cli import main

raise SystemExit(main())
