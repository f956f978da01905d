"""Model profiles: what a model family needs whichever host serves it.

Quirks here are keyed by the model (its upstream id, as every host spells it), never by wire format, so the
same Claude model thinks the same way through Anthropic's API, Bedrock and Vertex AI, and the same Gemini
model through the Gemini API and Vertex AI. `reasoning` holds the one effort → budget table.
"""
