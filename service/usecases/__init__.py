"""The application's rules, callable from HTTP (/chat, /v1), the CLI and tests alike: the chat
turn, answering, ingestion, accounts and documents. They speak domain types, call the store
and RAG, and know nothing of HTTP."""
