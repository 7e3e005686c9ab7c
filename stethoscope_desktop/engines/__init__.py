"""Query engines that run a check's osquery SQL: embedded SQLite or a real osqueryd."""
