"""Services: operations that combine the job database, the job archive and the domain rules."""
