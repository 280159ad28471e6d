"""The web front end's adapters: its session store and the clients of the other services."""
