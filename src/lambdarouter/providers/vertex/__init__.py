"""The Google Vertex AI family: Gemini and Claude, each in its own wire format, with Vertex's credentials."""
