"""Developer tooling: the embedded local PostgreSQL and the generated-code check."""
