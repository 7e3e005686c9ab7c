"""Tests of the osquery extension that serves every user's last report to IT's osqueryd."""
