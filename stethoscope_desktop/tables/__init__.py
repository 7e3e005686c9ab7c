"""Our implementations of osquery tables (and our own `stethoscope_*` tables), free of Qt."""
