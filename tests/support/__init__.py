"""What the tests share: builders of mails, documents and configs, the bot, the databases, and real
loopback servers with fault injection. Test modules import from here, never from each other; the
fixtures defined here are registered by tests/conftest.py (pytest_plugins)."""
