"""Self-tests of the plugin run pytest in a subprocess (``pytester``)."""

pytest_plugins = ["pytester"]
