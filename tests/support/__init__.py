"""Test support shared by several test folders: fakes and small helpers (imported as `tests.support.*`)."""
