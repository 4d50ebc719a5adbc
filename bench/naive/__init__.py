"""The baseline genrelay is compared with: a Celery app written the way this is usually first written
(one task per job that submits, sleeps and polls until done, then downloads)."""
