"""Running a project's tests on a candidate change, away from the user's files."""
