"""Local fakes of the platform APIs that the real client libraries talk to in tests."""
