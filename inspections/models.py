"""Models arrive with the rectification and inspections issue."""
