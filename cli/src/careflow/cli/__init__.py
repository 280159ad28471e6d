"""careflow package."""
