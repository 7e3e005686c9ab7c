"""Tests of the table implementations."""
