"""Reports for people: export and the top-down map."""
