"""The HTTP API (Lago's `/api/v1`) and the customer portal: `meterhouse serve` (docs/api.md)."""
