"""Tests of the sqlc plugin in codegen/, run through the real sqlc binary, no database."""
