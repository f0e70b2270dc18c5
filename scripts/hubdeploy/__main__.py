"""Allow `python -m hubdeploy`."""

from hubdeploy.cli import main

raise SystemExit(main())
