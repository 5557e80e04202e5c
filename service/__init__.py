"""The service: settings, app, store (transactions over generated queries), RAG."""
