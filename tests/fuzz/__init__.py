"""Property-based fuzzing of the app's inputs (hypothesis)."""
