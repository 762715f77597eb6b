"""billing-app: turns the orders queued on billing_queue into rows of billing-db."""
