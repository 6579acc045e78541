"""The team store: one PostgreSQL database shared by every developer of a project (the ``team``
extra). Imported only when ``store.url`` names PostgreSQL."""
