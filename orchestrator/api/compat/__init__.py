"""Provider-compatible routes: a client written for CometAPI's routes works by changing only its base
URL and key. Each module translates requests into unified jobs and projects jobs back into the
provider's own task objects and envelopes, with result URLs pointing at our storage."""
