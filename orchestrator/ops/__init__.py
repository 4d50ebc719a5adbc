"""What operators use: the admin use-cases, channel administration, the money audit, metrics, the provider
catalog, the deploy files and Flower's command line."""
