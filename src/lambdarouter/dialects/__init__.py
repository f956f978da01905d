"""Inbound APIs: each translates its requests into the gateway's terms and the gateway's events into its answers."""
