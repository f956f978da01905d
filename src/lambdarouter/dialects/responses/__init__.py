"""OpenAI's Responses API (POST /responses): the request, its translation, the answer and its streamed events."""
