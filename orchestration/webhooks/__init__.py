"""Webhooks: Lago's notifications, queued in the warehouse by a close or a finalization and
delivered outside it (docs/webhooks.md)."""
