"""The careflow queue service."""
