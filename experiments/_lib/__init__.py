"""The small kit every experiment uses: CLI, atomic output, manifest, plotting, progress, sharding.

An experiment module defines `Config`, `PRESETS`, `run`, `plot`, `check_claims` and calls
`experiments._lib.cli.main(sys.modules[__name__], argv)` from its own `main(argv)`.
"""
