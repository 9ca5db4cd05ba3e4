"""Tools for testing pipelines without a Runway account: the emulator lives here."""
