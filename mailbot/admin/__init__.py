"""What the admins use from the CLI: views, the registry, hardcopy requests, archive and report."""
