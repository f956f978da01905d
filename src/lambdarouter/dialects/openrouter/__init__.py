"""Pydantic models of the public wire format (OpenAI chat completions + OpenRouter extensions)."""
