"""Fact memory: statements recalld holds about users and the world, with the time they were true,
retired rather than deleted when they change, searchable like passages."""
