"""The careflow identity service."""
