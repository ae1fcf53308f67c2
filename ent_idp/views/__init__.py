"""One blueprint per flow; thin views."""
