"""The careflow triage service."""
