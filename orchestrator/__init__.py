"""genrelay's core: settings, database, lifecycle, ledger, pricing, storage, use-cases, API and CLI."""
