"""Background work: each job is an idempotent `run_once()` plus a loop the server starts in its lifespan."""
