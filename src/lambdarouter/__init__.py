"""lambdarouter: a unified, OpenRouter-compatible API for AI models."""

__version__ = "0.1.0"
