"""Tests of the Linux tables, against fake roots and recorded command outputs."""
