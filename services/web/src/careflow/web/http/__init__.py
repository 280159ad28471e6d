"""The web front end's HTTP entry point: pages, forms and the live socket."""
