"""Workers: upstream provider adapters, the upstream simulator, and the Celery app with its thin tasks."""
