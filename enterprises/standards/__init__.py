"""Standards shipped as data (versioned with the code, loaded into the reference models by migrations)."""
