"""Tests of the sqlc plugin in codegen/: recorded sqlc requests replayed, a few sqlc runs."""
