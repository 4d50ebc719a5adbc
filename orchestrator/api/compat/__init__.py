"""Provider-compatible routes: each provider package declares its route family
(`workers.providers.compat`); `mount` puts every family on the API and `caller_jobs` carries out what
its handlers ask of the caller's jobs."""
