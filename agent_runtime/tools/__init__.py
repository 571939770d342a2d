"""Custom tools: HTTP endpoints a tenant describes, called by its agents."""
