"""A job's way through the system after it is accepted: admission and capacity, channels and their health,
submission and reconciliation, tracking by polls and callbacks, storing, the sweep, and the tenant's
webhooks."""
