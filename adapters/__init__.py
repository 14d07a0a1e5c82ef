"""Platform adapters: each turns one platform's events into core events and renders replies."""
