"""Moves votes from the Redis list `votes` into the Postgres table `votes`."""
