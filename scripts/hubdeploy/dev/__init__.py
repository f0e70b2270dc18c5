"""Developer tools (not part of the CLI)."""
