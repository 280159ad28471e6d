"""The careflow chat service."""
