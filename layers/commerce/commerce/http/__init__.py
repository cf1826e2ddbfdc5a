"""The HTTP edge shared by every API function: problem responses, callers and roles, pages."""
