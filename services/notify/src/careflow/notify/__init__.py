"""The careflow notify service."""
