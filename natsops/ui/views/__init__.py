"""Dashboard views: one module per group of related views."""
