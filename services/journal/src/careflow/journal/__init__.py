"""The careflow journal service."""
