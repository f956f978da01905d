"""The Anthropic provider family: its wire format's adapters (chat, and embeddings and images where it has them)."""
