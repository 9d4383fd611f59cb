"""The fixtures of tests/support for every test: servers, databases, bots (and the Hypothesis profile)."""

pytest_plugins = ["tests.support.profiles", "tests.support.servers", "tests.support.db", "tests.support.bot"]
