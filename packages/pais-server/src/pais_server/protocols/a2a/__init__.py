"""A2A (0.3, 1.0 and the KAOS dialect): the JSON-RPC endpoint, tasks, push notifications and the card."""
