"""careflow's web front end: a backend-for-frontend serving server-rendered pages."""
