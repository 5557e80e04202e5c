"""sqlc process plugin that emits typed asyncpg code (see README.md, "The code generator")."""

__version__ = "0.1.0"
PLUGIN_NAME = "sqlc-gen-asyncpg"
