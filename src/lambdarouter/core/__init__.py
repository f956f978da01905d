"""The core: the one stream event type, the catalog and hosts as data, routing, pricing, budgets, errors, settings.

Nothing here knows an HTTP route, an inbound dialect or a provider's wire format.
"""
