"""``python -m worker.cli``: the same as the installed ``openai-worker`` script."""

from worker.cli import main

raise SystemExit(main())
