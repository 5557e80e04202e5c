"""RAG: extract, chunk, embed, retrieve, answer."""
