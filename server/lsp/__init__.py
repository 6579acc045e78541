"""The editor surface: a pygls session and its handlers, translating LSP to analysis and back."""
