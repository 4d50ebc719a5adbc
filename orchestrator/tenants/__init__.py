"""What tenants own and ask for: accounts and keys, creating jobs (with idempotency and limits), and acting
on their jobs."""
